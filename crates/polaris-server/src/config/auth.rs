//! The `auth` section: `auth.user.option.salt` and `auth.strategy.option` with the switches
//! `consoleOpen`, `consoleStrict`, `clientOpen` and `clientStrict`. As officially, the legacy
//! flat `auth.option` is read only when neither of the two is given, and its `strict: true`
//! also opens console checks.

use polaris_auth::AuthOptions;
use serde_json::Value;

use super::typed::{Invalid, invalid};

pub(crate) fn options(section: Option<&Value>) -> Result<AuthOptions, Invalid> {
    let mut options = AuthOptions::default();
    let Some(section) = section.filter(|s| !s.is_null()) else {
        return Ok(options);
    };
    let user = section.pointer("/user/option").filter(|v| !v.is_null());
    let strategy = section.pointer("/strategy/option").filter(|v| !v.is_null());
    let sources: Vec<(&str, &Value)> = if user.is_some() || strategy.is_some() {
        [
            ("auth.user.option", user),
            ("auth.strategy.option", strategy),
        ]
        .into_iter()
        .filter_map(|(path, v)| Some((path, v?)))
        .collect()
    } else {
        section
            .get("option")
            .filter(|v| !v.is_null())
            .map(|v| vec![("auth.option", v)])
            .unwrap_or_default()
    };
    for (path, source) in sources {
        let Some(map) = source.as_object() else {
            return Err(invalid(path, "must be a mapping"));
        };
        for (key, value) in map {
            let flag = || {
                value
                    .as_bool()
                    .ok_or_else(|| invalid(format!("{path}.{key}"), "must be true or false"))
            };
            match key.as_str() {
                "salt" => {
                    let salt = value
                        .as_str()
                        .ok_or_else(|| invalid(format!("{path}.salt"), "must be a string"))?;
                    if !matches!(salt.len(), 16 | 24 | 32) {
                        return Err(invalid(
                            format!("{path}.salt"),
                            "must be 16, 24 or 32 bytes",
                        ));
                    }
                    options.salt = salt.to_string();
                }
                "consoleOpen" => options.console_open = flag()?,
                "consoleStrict" => options.console_strict = flag()?,
                "clientOpen" => options.client_open = flag()?,
                "clientStrict" => options.client_strict = flag()?,
                "strict" => {
                    if flag()? {
                        options.console_open = true;
                    }
                }
                _ => tracing::warn!(key = %format!("{path}.{key}"), "unknown auth option ignored"),
            }
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_official_ones() {
        let options = options(None).unwrap();
        assert!(options.console_open && options.console_strict);
        assert!(!options.client_open && !options.client_strict);
        assert_eq!(options.salt, "polarismesh@2021");
    }

    #[test]
    fn user_and_strategy_options_are_read() {
        let section = json!({
            "user": { "name": "defaultUser", "option": { "salt": "0123456789abcdef" } },
            "strategy": { "name": "defaultStrategy", "option": { "clientOpen": true, "consoleStrict": false } },
        });
        let options = options(Some(&section)).unwrap();
        assert_eq!(options.salt, "0123456789abcdef");
        assert!(options.client_open && options.console_open && !options.console_strict);
    }

    #[test]
    fn the_legacy_flat_option_counts_only_alone() {
        let legacy = json!({ "option": { "consoleOpen": false } });
        assert!(!options(Some(&legacy)).unwrap().console_open);
        let both = json!({ "option": { "consoleOpen": false }, "strategy": { "option": {} } });
        assert!(options(Some(&both)).unwrap().console_open);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = options(Some(&json!({ "user": { "option": { "salt": "short" } } }))).unwrap_err();
        assert_eq!(err.key_path, "auth.user.option.salt");
        let err = options(Some(
            &json!({ "strategy": { "option": { "clientOpen": "yes" } } }),
        ))
        .unwrap_err();
        assert_eq!(err.key_path, "auth.strategy.option.clientOpen");
    }
}
