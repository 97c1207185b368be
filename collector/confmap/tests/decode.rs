use cormorant_confmap::{ConfValue, decode};
use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Grpc {
    endpoint: String,
    #[serde(default)]
    max_recv_msg_size_mib: Option<u64>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Protocols {
    grpc: Option<Grpc>,
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Top {
    protocols: Protocols,
}

fn map(entries: Vec<(&str, ConfValue)>) -> ConfValue {
    ConfValue::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<IndexMap<_, _>>(),
    )
}

#[test]
fn unknown_key_reports_full_path_of_its_parent() {
    let value = map(vec![(
        "protocols",
        map(vec![(
            "grpc",
            map(vec![("endpont", ConfValue::String("x".into()))]),
        )]),
    )]);
    let err = decode::<Top>(&value).unwrap_err();
    assert_eq!(
        err.to_string(),
        "'protocols.grpc' has invalid keys: endpont"
    );
}

#[test]
fn unknown_top_level_key() {
    let value = map(vec![
        ("protocols", map(vec![])),
        ("bogus", ConfValue::Int(1)),
    ]);
    let err = decode::<Top>(&value).unwrap_err();
    assert_eq!(err.to_string(), "'' has invalid keys: bogus");
}

#[test]
fn strings_fill_scalar_fields_and_null_is_none() {
    let value = map(vec![(
        "protocols",
        map(vec![
            (
                "grpc",
                map(vec![
                    ("endpoint", ConfValue::Int(4317)),
                    ("max_recv_msg_size_mib", ConfValue::String("16".into())),
                ]),
            ),
            ("enabled", ConfValue::String("true".into())),
        ]),
    )]);
    let top: Top = decode(&value).unwrap();
    assert_eq!(
        top.protocols,
        Protocols {
            grpc: Some(Grpc {
                endpoint: "4317".into(),
                max_recv_msg_size_mib: Some(16)
            }),
            enabled: true
        }
    );
    let none = map(vec![("protocols", map(vec![("grpc", ConfValue::Null)]))]);
    assert_eq!(decode::<Top>(&none).unwrap().protocols.grpc, None);
}

#[test]
fn type_mismatch_names_the_key() {
    let value = map(vec![(
        "protocols",
        map(vec![("enabled", ConfValue::Seq(vec![]))]),
    )]);
    let err = decode::<Top>(&value).unwrap_err();
    assert_eq!(err.path, "protocols.enabled");
    assert!(
        err.to_string()
            .starts_with("'protocols.enabled' expected a bool"),
        "{err}"
    );
}
