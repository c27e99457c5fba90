//! Enums stored as text columns: one Rust type per concept (a status, a kind, a role),
//! shared by the row structs, the services and the GraphQL schema.
//!
//! [`pg_enum!`] declares the enum with its column text per variant and implements diesel's
//! `ToSql`/`FromSql` for `Text`, serde (as the same text, so event payloads read the way
//! the columns do), `Display` and `Debug` (the text, quoted), `as_str`, `parse` and `ALL`. A row struct holds the enum
//! itself (`status: OrderStatus`), queries compare enums (`orders::status.eq(status)`), and
//! a value the column's CHECK constraint allows but the enum does not know fails loudly as a
//! deserialization error instead of turning into a default.
//!
//! Attributes before the enum pass through, so the domain that owns it may add
//! `#[derive(async_graphql::Enum)]` (and `#[graphql(name = "…")]`): the type the schema
//! shows is then the very type the rows hold, and no layer keeps a mirror of it. Doc
//! comments become the schema's descriptions.
//!
//! Text rather than PostgreSQL enum types: the columns already exist as `text` with CHECK
//! constraints, a new value is then a one-line migration that needs no `ALTER TYPE` outside a
//! transaction, and raw SQL (`prerendered` statements, pgbench baselines) compares plain
//! strings.

/// Declares an enum stored as text. See the module documentation.
///
/// ```ignore
/// pg_enum! {
///     /// Where an order stands.
///     #[derive(async_graphql::Enum)]
///     pub enum OrderStatus {
///         /// Waiting for the client's payment.
///         PendingPayment = "PENDING_PAYMENT",
///         Completed = "COMPLETED",
///     }
/// }
/// ```
macro_rules! pg_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            #[allow(dead_code)]
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text stored in the column.
            #[allow(dead_code)]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant stored as `text`, if any.
            #[allow(dead_code)]
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        /// The column text, quoted (so that `debug_query` shows binds as SQL would see them).
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                Self::parse(text).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($name), " {:?}"), text).into()
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", stringify!($name), " {:?}"), text))
                })
            }
        }
    };
}
pub(crate) use pg_enum;

#[cfg(test)]
mod tests {
    use diesel::{
        deserialize::FromSql,
        pg::{Pg, PgValue, TypeOidLookup},
        sql_types::Text,
    };

    super::pg_enum! {
        /// A probe.
        pub enum Probe {
            One = "ONE",
            TwoWords = "TWO_WORDS",
        }
    }

    #[test]
    fn text_round_trips() {
        for probe in Probe::ALL {
            assert_eq!(Probe::parse(probe.as_str()), Some(*probe));
            let json = serde_json::to_string(probe).unwrap();
            assert_eq!(serde_json::from_str::<Probe>(&json).unwrap(), *probe);
        }
        assert_eq!(Probe::TwoWords.to_string(), "TWO_WORDS");
        assert_eq!(Probe::parse("two_words"), None);
        assert!(serde_json::from_str::<Probe>("\"THREE\"").is_err());
    }

    struct TextOid;
    impl TypeOidLookup for TextOid {
        fn lookup(&self) -> std::num::NonZeroU32 {
            std::num::NonZeroU32::new(25).unwrap()
        }
    }

    #[test]
    fn unknown_column_text_is_an_error() {
        let ok = <Probe as FromSql<Text, Pg>>::from_sql(PgValue::new(b"ONE", &TextOid));
        assert_eq!(ok.unwrap(), Probe::One);
        assert!(<Probe as FromSql<Text, Pg>>::from_sql(PgValue::new(b"NOPE", &TextOid)).is_err());
    }
}
