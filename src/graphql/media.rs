//! GraphQL over HTTP media types: which one a response is sent as, negotiated from the
//! request's `Accept`, and what that choice means for the status code.
//!
//! `application/graphql-response+json` is the specification's own type: a response that is a
//! *request error* (the document did not parse or validate, variables did not coerce, no
//! operation could be selected; nothing ran) answers 4xx and has no `data` entry. Under the
//! legacy `application/json` the same response answers 200, as clients written before the
//! specification expect. A client that names neither (nor a wildcard) gets 406.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use headers_accept::Accept;
use mediatype::{MediaType, Name};

const GRAPHQL_RESPONSE: Name = Name::new_unchecked("graphql-response");

/// What the server offers, in the order a wildcard (`*/*`, `application/*`) picks from:
/// `application/json` first, as the specification asks while clients move over. Each also
/// with a `charset` of UTF-8, which some clients put in `Accept` (a range with parameters
/// matches only a type with the same ones, and values compare case-sensitively).
static OFFERED: std::sync::LazyLock<Vec<MediaType<'static>>> = std::sync::LazyLock::new(|| {
    [
        "application/json",
        "application/graphql-response+json",
        "application/json; charset=utf-8",
        "application/graphql-response+json; charset=utf-8",
        "application/json; charset=UTF-8",
        "application/graphql-response+json; charset=UTF-8",
    ]
    .into_iter()
    .filter_map(|offered| MediaType::parse(offered).ok())
    .collect()
});

/// The media type of a `/graphql` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMedia {
    /// `application/graphql-response+json`
    GraphqlResponse,
    /// `application/json`
    Json,
}

impl ResponseMedia {
    /// The type `Accept` asks for, `Json` when it is missing, empty or unreadable, and `None`
    /// when it lists only types the server cannot send (answer 406).
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(header::ACCEPT).iter();
        let parsed = match (values.next(), values.next()) {
            (None, _) => return Some(Self::Json),
            (Some(one), None) => match one.to_str() {
                Ok(one) if !one.trim().is_empty() => one.parse::<Accept>(),
                _ => return Some(Self::Json),
            },
            // Several Accept headers mean the same as one with their values joined.
            (Some(_), Some(_)) => {
                let joined: Vec<&str> = headers
                    .get_all(header::ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter(|v| !v.trim().is_empty())
                    .collect();
                joined.join(", ").parse::<Accept>()
            }
        };
        let Ok(accept) = parsed else {
            return Some(Self::Json);
        };
        accept.negotiate(OFFERED.iter()).map(|chosen| {
            if chosen.subty == GRAPHQL_RESPONSE {
                Self::GraphqlResponse
            } else {
                Self::Json
            }
        })
    }

    /// The `Content-Type` of a response in this media type.
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }

    /// The status of a GraphQL response that is a request error.
    pub fn request_error_status(self) -> StatusCode {
        match self {
            Self::GraphqlResponse => StatusCode::BAD_REQUEST,
            Self::Json => StatusCode::OK,
        }
    }
}

/// Whether a response is a request error: nothing executed, so there is no data and no error
/// has a path. (Parsing, validation, variable coercion, operation selection and the depth and
/// complexity limits all fail this way in async-graphql; an error raised while resolving a
/// field carries its path, even when it nulls the whole `data`.)
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &[&str]) -> Option<ResponseMedia> {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        ResponseMedia::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_media_type() {
        use ResponseMedia::*;
        assert_eq!(negotiate(&[]), Some(Json), "no Accept");
        assert_eq!(negotiate(&[""]), Some(Json), "empty Accept");
        assert_eq!(negotiate(&["*/*"]), Some(Json));
        assert_eq!(negotiate(&["application/*"]), Some(Json));
        assert_eq!(negotiate(&["application/json"]), Some(Json));
        assert_eq!(negotiate(&["application/json; charset=utf-8"]), Some(Json));
        assert_eq!(negotiate(&["application/json;charset=UTF-8"]), Some(Json));
        assert_eq!(negotiate(&["application/graphql-response+json"]), Some(GraphqlResponse));
        assert_eq!(
            negotiate(&["application/graphql-response+json; charset=utf-8"]),
            Some(GraphqlResponse)
        );
        // What graphql-http's and Apollo's clients send.
        assert_eq!(
            negotiate(&["application/graphql-response+json, application/json"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json,application/json;q=0.9"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/json, application/graphql-response+json;q=0.5"]),
            Some(Json)
        );
        assert_eq!(
            negotiate(&["text/html", "application/graphql-response+json"]),
            Some(GraphqlResponse),
            "two Accept headers"
        );
        // A browser navigating to a GET link.
        assert_eq!(
            negotiate(&["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]),
            Some(Json)
        );
        assert_eq!(negotiate(&["text/html"]), None);
        assert_eq!(negotiate(&["application/json;q=0"]), None);
        assert_eq!(negotiate(&["application/xml, text/plain"]), None);
    }

    #[test]
    fn request_errors_have_no_data_and_no_paths() {
        let parse_error =
            async_graphql::Response::from_errors(vec![async_graphql::ServerError::new("expected selection", None)]);
        assert!(is_request_error(&parse_error));

        let mut field_error = async_graphql::ServerError::new("boom", None);
        field_error.path = vec![async_graphql::PathSegment::Field("me".into())];
        assert!(!is_request_error(&async_graphql::Response::from_errors(vec![
            field_error
        ])));

        let data =
            async_graphql::Response::new(async_graphql::Value::from_json(serde_json::json!({ "a": 1 })).unwrap());
        assert!(!is_request_error(&data));
    }
}
