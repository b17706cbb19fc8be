//! Connection URLs, which can carry a password: shown only with the password masked.

use serde::{Deserialize, Serialize};

/// A database, Redis or queue URL. `Debug` and `Display` mask its password, so it can sit in
/// settings that are logged or put in error messages; [`ConnectionUrl::expose`] is for the
/// driver alone. Serialized whole: settings are serialized only to layer them at start.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// The whole URL, password included: for the driver that connects, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `postgres`, `redis`, `sqlite`…
    pub fn scheme(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }

    pub fn masked(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                // sqlx also takes the password as a query parameter.
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(key, value)| {
                        let secret = key.eq_ignore_ascii_case("password");
                        let value = if secret {
                            "***".into()
                        } else {
                            value.into_owned()
                        };
                        (key.into_owned(), value)
                    })
                    .collect();
                if pairs
                    .iter()
                    .any(|(key, _)| key.eq_ignore_ascii_case("password"))
                {
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            // Not a URL we can parse: show nothing of it rather than risk a secret.
            Err(_) => "<not a URL>".to_string(),
        }
    }
}

impl From<String> for ConnectionUrl {
    fn from(url: String) -> Self {
        ConnectionUrl(url)
    }
}

impl From<&str> for ConnectionUrl {
    fn from(url: &str) -> Self {
        ConnectionUrl(url.to_string())
    }
}

impl std::fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::fmt::Display for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = ConnectionUrl::from("postgres://sous:hunter2@db:5432/sous");
        assert_eq!(url.to_string(), "postgres://sous:***@db:5432/sous");
        assert_eq!(format!("{url:?}"), "postgres://sous:***@db:5432/sous");
        assert!(url.expose().contains("hunter2"));
        assert_eq!(url.scheme(), "postgres");
        let redis = ConnectionUrl::from("redis://:s3cret@cache:6379/0");
        assert!(!redis.to_string().contains("s3cret"), "{redis}");
        let query = ConnectionUrl::from("postgres://db/sous?user=sous&password=hunter2");
        assert_eq!(
            query.to_string(),
            "postgres://db/sous?user=sous&password=***"
        );
        let plain = ConnectionUrl::from("sqlite://data/sous.db?mode=rwc");
        assert_eq!(plain.to_string(), "sqlite://data/sous.db?mode=rwc");
        assert_eq!(ConnectionUrl::from("p@ss word").to_string(), "<not a URL>");
    }
}
