//! The parsed-document cache, and what the handler learns from a parsed document.
//!
//! [`DocumentCache`] keeps parsed documents by query text, each with the requests
//! ([`ValidationKey`]s) it has already passed async-graphql's full validation for;
//! [`TwinSchema`] runs a request known to pass on the schema that skips the validation
//! rules (`ValidationMode::Fast`) and everything else on the fully validating one,
//! remembering what passed. [`Operation`] says what the selected operation is (its type,
//! its name for metrics and traces, whether it selects or asks for introspection) before
//! anything runs.

use std::sync::Arc;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};

use super::AppSchema;

/// Parsed documents by query text, each with the requests it has already passed validation
/// for. Clients send the same few queries over and over: cloning a parsed document costs a
/// fraction of parsing it again, and a request known to pass async-graphql's validation
/// rules can run on a schema that skips them ([`TwinSchema::fast`]).
///
/// Bounded in entries and in (estimated) bytes: every document weighs at least
/// `max_bytes / max_entries`, and more when its text is long.
pub struct DocumentCache {
    documents: quick_cache::sync::Cache<String, Arc<CachedDocument>, DocumentWeight>,
}

/// Documents longer than this are parsed every time rather than cached.
const CACHEABLE_QUERY_BYTES: usize = 16 * 1024;

/// How many (operation, variables) shapes one document remembers as validated.
const VALIDATED_SHAPES_PER_DOCUMENT: usize = 8;

/// A shape longer than this (many or large non-string variables) is validated every time.
const CACHEABLE_SHAPE_BYTES: usize = 512;

/// Estimated bytes of a parsed document per byte of its text (positions, names, vectors).
const PARSED_BYTES_PER_TEXT_BYTE: u64 = 32;

/// A cached parse, and the requests on it that passed validation.
pub struct CachedDocument {
    doc: ExecutableDocument,
    validated: std::sync::Mutex<Vec<ValidationKey>>,
}

/// What validation of a parsed document depends on besides the schema: the selected
/// operation, and the variables' values (argument values are checked against their types,
/// and `complexity` expressions read arguments).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ValidationKey {
    operation: Option<String>,
    variables: String,
}

impl ValidationKey {
    /// The key of a request with these variables, or `None` when such requests are
    /// validated every time (uploads, or a shape longer than [`CACHEABLE_SHAPE_BYTES`]).
    ///
    /// A string value of a variable declared `ID`, `ID!`, `String` or `String!` counts only as
    /// "a string": validation requires such a variable to be used where exactly that scalar
    /// is expected, and every string is a valid `ID` or `String`. The only other reader of
    /// the content would be a `complexity` expression, and ours read `first` (an `Int`) only.
    /// Every other value (numbers, enums, lists, input objects, null) is part of the key as
    /// it is, so one id or username makes one key, while `first: 20` and `first: 500` do not.
    fn of(doc: &ExecutableDocument, request: &async_graphql::Request) -> Option<Self> {
        if !request.uploads.is_empty() {
            return None;
        }
        let definitions = selected_operation(doc, request.operation_name.as_deref())
            .map(|op| op.variable_definitions.as_slice())
            .unwrap_or_default();
        let shape: Vec<(&str, VariableShape)> = request
            .variables
            .iter()
            .map(|(name, value)| {
                let any_string = matches!(value, async_graphql::Value::String(_))
                    && definitions.iter().any(|def| {
                        def.node.name.node == *name
                            && matches!(&def.node.var_type.node.base,
                                BaseType::Named(ty) if matches!(ty.as_str(), "ID" | "String"))
                    });
                let shape = if any_string {
                    VariableShape::AnyString
                } else {
                    VariableShape::Value(value)
                };
                (name.as_str(), shape)
            })
            .collect();
        let variables = serde_json::to_string(&shape).ok()?;
        (variables.len() <= CACHEABLE_SHAPE_BYTES).then(|| Self {
            operation: request.operation_name.clone(),
            variables,
        })
    }
}

/// One variable in a [`ValidationKey`]: serialised as `"AnyString"` or `{"Value": …}`, so that
/// "some string" can never be confused with a value (`null` included).
#[derive(serde::Serialize)]
enum VariableShape<'a> {
    AnyString,
    Value(&'a async_graphql::Value),
}

impl CachedDocument {
    fn passed(&self, key: &ValidationKey) -> bool {
        self.validated.lock().is_ok_and(|validated| validated.contains(key))
    }

    fn remember(&self, key: ValidationKey) {
        if let Ok(mut validated) = self.validated.lock() {
            if validated.len() < VALIDATED_SHAPES_PER_DOCUMENT && !validated.contains(&key) {
                validated.push(key);
            }
        }
    }
}

/// Weighs a cached document by an estimate of its bytes, at least `floor`.
#[derive(Clone)]
struct DocumentWeight {
    floor: u64,
}

impl quick_cache::Weighter<String, Arc<CachedDocument>> for DocumentWeight {
    fn weight(&self, query: &String, _: &Arc<CachedDocument>) -> u64 {
        let shapes = (VALIDATED_SHAPES_PER_DOCUMENT * CACHEABLE_SHAPE_BYTES) as u64;
        (query.len() as u64 * (1 + PARSED_BYTES_PER_TEXT_BYTE) + shapes).max(self.floor)
    }
}

/// A request whose document came from the cache, and how it relates to validation.
pub struct Prepared {
    document: Option<(Arc<CachedDocument>, ValidationKey)>,
}

impl Prepared {
    /// Whether an identical request (same document, operation and variable shape) has
    /// passed the full validation before, so this one may run on the schema that skips it.
    pub fn prevalidated(&self) -> bool {
        self.document.as_ref().is_some_and(|(doc, key)| doc.passed(key))
    }

    /// Records the outcome of running the request on the fully validating schema. A
    /// response with data passed validation: async-graphql answers a request that fails
    /// validation (or parsing, or operation selection) with errors and `data: null`, while
    /// an executed operation always yields an object. A `null` data from execution itself
    /// is merely not remembered.
    pub fn ran_validated(self, response: &async_graphql::Response) {
        if response.data != async_graphql::Value::Null {
            if let Some((doc, key)) = self.document {
                doc.remember(key);
            }
        }
    }
}

impl DocumentCache {
    /// A cache of at most `max_entries` documents and about `max_bytes` bytes.
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        let floor = (max_bytes / max_entries.max(1) as u64).max(1);
        Self {
            documents: quick_cache::sync::Cache::with_weighter(max_entries, max_bytes, DocumentWeight { floor }),
        }
    }

    /// Cached documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// Parses `request`'s document, or reuses the cached parse of the same text.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Prepared {
        let cached = match self.documents.get(request.query.as_str()) {
            Some(cached) => {
                request.set_parsed_query(cached.doc.clone());
                Some(cached)
            }
            None if request.query.len() <= CACHEABLE_QUERY_BYTES => {
                let query = request.query.clone();
                match request.parsed_query() {
                    Ok(doc) => {
                        let cached = Arc::new(CachedDocument {
                            doc: doc.clone(),
                            validated: Default::default(),
                        });
                        self.documents.insert(query, cached.clone());
                        Some(cached)
                    }
                    Err(_) => None,
                }
            }
            None => None,
        };
        Prepared {
            document: cached.and_then(|cached| {
                let key = ValidationKey::of(&cached.doc, request)?;
                Some((cached, key))
            }),
        }
    }
}

/// A schema and its twin without the validation rules: the same types, limits and
/// extensions, built with `ValidationMode::Strict` and `ValidationMode::Fast`.
#[derive(Clone)]
pub struct TwinSchema {
    /// Validates every request it runs.
    pub strict: AppSchema,
    /// Skips async-graphql's validation rules (it still computes complexity and depth and
    /// enforces their limits). Only for requests that [`DocumentCache`] has seen pass
    /// `strict`'s full validation.
    pub fast: AppSchema,
}

impl TwinSchema {
    /// Runs `request` on `fast` when an identical one has passed validation before, and on
    /// `strict` otherwise, remembering whether it passed.
    pub async fn execute(&self, prepared: Prepared, request: async_graphql::Request) -> async_graphql::Response {
        if prepared.prevalidated() {
            return self.fast.execute(request).await;
        }
        let response = self.strict.execute(request).await;
        prepared.ran_validated(&response);
        response
    }
}

/// What the handler needs to know of a request's operation before running it. A document
/// that does not parse, or names no operation unambiguously, yields the defaults: no type,
/// and async-graphql answers it with the error.
#[derive(Default)]
pub struct Operation {
    /// `query`, `mutation` or `subscription`, when an operation is selected.
    pub ty: Option<OperationType>,
    /// For metrics and traces: the `operationName`, or the name of a document's only
    /// operation.
    pub label: Option<String>,
    /// A query that selects only `__schema`, `__type` and `__typename` at its root.
    pub introspection_only: bool,
    /// The operation asks for `__schema` or `__type` somewhere at its root level.
    pub asks_for_introspection: bool,
}

impl Operation {
    /// Reads the operation `request` selects from its parsed document (parsing it when the
    /// cache did not).
    pub fn of(request: &mut async_graphql::Request) -> Self {
        let operation_name = request.operation_name.clone();
        let Ok(doc) = request.parsed_query() else {
            return Self {
                label: operation_name,
                ..Self::default()
            };
        };
        let label = match (&operation_name, &doc.operations) {
            (None, DocumentOperations::Multiple(named)) if named.len() == 1 => {
                named.keys().next().map(|name| name.to_string())
            }
            _ => operation_name.clone(),
        };
        let Some(op) = selected_operation(doc, operation_name.as_deref()) else {
            return Self {
                label,
                ..Self::default()
            };
        };
        let root = &op.selection_set.node;
        Self {
            ty: Some(op.ty),
            label,
            introspection_only: op.ty == OperationType::Query && only_introspection(doc, root, 0),
            asks_for_introspection: asks_for_introspection(doc, root, 0),
        }
    }

    /// Whether the operation is a mutation.
    pub fn is_mutation(&self) -> bool {
        self.ty == Some(OperationType::Mutation)
    }
}

/// The operation the request selects, if the document names it unambiguously.
fn selected_operation<'a>(doc: &'a ExecutableDocument, name: Option<&str>) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| &op.node),
        _ => None,
    }
}

/// Whether every field a selection set selects at its level is an introspection field
/// (`__schema`, `__type`, `__typename`), looking through fragments.
fn only_introspection(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field.node.name.node.starts_with("__"),
        Selection::InlineFragment(fragment) => only_introspection(doc, &fragment.node.selection_set.node, depth + 1),
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| only_introspection(doc, &f.node.selection_set.node, depth + 1)),
    })
}

/// Whether a selection set asks for `__schema` or `__type`, looking through fragments.
fn asks_for_introspection(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(fragment) => {
            asks_for_introspection(doc, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| asks_for_introspection(doc, &f.node.selection_set.node, depth + 1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, variables: serde_json::Value) -> async_graphql::Request {
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables))
    }

    fn key(query: &str, variables: serde_json::Value) -> Option<ValidationKey> {
        let mut request = request(query, variables);
        let doc = request.parsed_query().ok()?.clone();
        ValidationKey::of(&doc, &request)
    }

    #[test]
    fn ids_and_strings_share_a_key_other_values_do_not() {
        let query = "query($id: ID!, $name: String, $first: Int, $sort: GigSort) { a: gig(id: $id) { id } }";
        let one = key(
            query,
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "NEWEST" }),
        );
        let other = key(
            query,
            serde_json::json!({ "id": "b", "name": "y", "first": 1, "sort": "NEWEST" }),
        );
        assert!(one.is_some());
        assert_eq!(one, other, "string contents of ID and String variables");
        for changed in [
            serde_json::json!({ "id": 7, "name": "x", "first": 1, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": null, "first": 1, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 2, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "OLDEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1 }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "NEWEST", "extra": "z" }),
        ] {
            assert_ne!(one, key(query, changed.clone()), "{changed}");
        }
        // A string for a variable of another type (an enum here) is part of the key.
        let enum_key = |sort: &str| key("query($s: GigSort) { a }", serde_json::json!({ "s": sort }));
        assert_ne!(enum_key("NEWEST"), enum_key("BOGUS"));
        // Undeclared variables are never abstracted.
        let loose = |v: &str| key("{ a }", serde_json::json!({ "v": v }));
        assert_ne!(loose("1"), loose("2"));
    }

    #[test]
    fn the_operation_name_is_part_of_the_key() {
        let query = "query A($id: ID) { a } query B($id: ID) { b }";
        let named = |name: &str| {
            let mut request = request(query, serde_json::json!({ "id": "x" })).operation_name(name);
            let doc = request.parsed_query().ok()?.clone();
            ValidationKey::of(&doc, &request)
        };
        assert!(named("A").is_some());
        assert_ne!(named("A"), named("B"));
    }

    #[test]
    fn large_variables_are_validated_every_time() {
        let query = "query($first: Int, $tags: [String!]) { a }";
        let tags: Vec<String> = (0..200).map(|i| format!("tag{i}")).collect();
        assert!(key(query, serde_json::json!({ "first": 1 })).is_some());
        assert_eq!(key(query, serde_json::json!({ "tags": tags })), None);
    }

    #[test]
    fn the_cache_is_bounded_in_entries_and_bytes() {
        let cache = DocumentCache::new(4, 4 * 64 * 1024);
        for i in 0..50 {
            let mut request = request(&format!("{{ a{i}: gig(id: \"x\") {{ id }} }}"), serde_json::json!({}));
            cache.prepare(&mut request);
            assert!(request.parsed_query().is_ok());
        }
        assert!(cache.len() <= 4, "{} entries", cache.len());

        // Long documents weigh more: only a few fit, however many are sent.
        let cache = DocumentCache::new(1000, 1024 * 1024);
        for i in 0..50 {
            let fields: String = (0..300).map(|f| format!("f{f} ")).collect();
            let mut request = request(&format!("{{ a{i}: gig {{ {fields} }} }}"), serde_json::json!({}));
            cache.prepare(&mut request);
        }
        assert!(cache.documents.weight() <= 1024 * 1024);
        assert!(cache.len() < 20, "{} entries", cache.len());
    }

    #[test]
    fn remembered_shapes_are_bounded_per_document() {
        let cache = DocumentCache::new(16, 16 * 64 * 1024);
        let query = "query($first: Int) { a }";
        let data = async_graphql::Response::new(
            async_graphql::Value::from_json(serde_json::json!({ "a": 1 })).unwrap_or_default(),
        );
        for first in 0..(VALIDATED_SHAPES_PER_DOCUMENT as i32 + 5) {
            let mut req = request(query, serde_json::json!({ "first": first }));
            let prepared = cache.prepare(&mut req);
            assert!(!prepared.prevalidated());
            prepared.ran_validated(&data);
            let mut again = request(query, serde_json::json!({ "first": first }));
            let remembered = cache.prepare(&mut again).prevalidated();
            assert_eq!(
                remembered,
                (first as usize) < VALIDATED_SHAPES_PER_DOCUMENT,
                "first: {first}"
            );
        }
        // A failed validation (errors, no data) is not remembered.
        let failed = async_graphql::Response::from_errors(vec![async_graphql::ServerError::new("invalid", None)]);
        let mut req = request("query($id: ID) { b }", serde_json::json!({ "id": "x" }));
        cache.prepare(&mut req).ran_validated(&failed);
        let mut again = request("query($id: ID) { b }", serde_json::json!({ "id": "x" }));
        assert!(!cache.prepare(&mut again).prevalidated());
    }
}
