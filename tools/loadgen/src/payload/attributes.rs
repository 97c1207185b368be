//! Attribute sets shaped like what instrumented HTTP services send.
//!
//! The collector's cost per item depends mostly on how many attributes it has and how long
//! their strings are, so the generator makes both configurable while keeping the default
//! shape (method, path, status) that the decode limits in performance.md §5 were measured
//! with.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::Rng;
use rand::distr::Alphanumeric;

const METHODS: [&str; 4] = ["GET", "GET", "POST", "PUT"];
const ROUTES: [&str; 4] = [
    "/api/v1/orders",
    "/api/v1/users",
    "/api/v1/cart/items",
    "/api/v1/payments",
];
const STATUS_CODES: [i64; 6] = [200, 200, 200, 201, 404, 500];

/// The request an item describes; spans, points and records use it to stay consistent
/// between their name or body and their attributes.
#[derive(Debug, Clone)]
pub(crate) struct HttpCall {
    pub method: &'static str,
    pub path: String,
    pub status_code: i64,
}

impl HttpCall {
    pub fn random(rng: &mut impl Rng) -> Self {
        let route = ROUTES[rng.random_range(0..ROUTES.len())];
        Self {
            method: METHODS[rng.random_range(0..METHODS.len())],
            path: format!("{route}/{}", rng.random_range(1..100_000)),
            status_code: STATUS_CODES[rng.random_range(0..STATUS_CODES.len())],
        }
    }

    pub fn is_server_error(&self) -> bool {
        self.status_code >= 500
    }
}

/// `count` attributes for one item: the HTTP trio first (truncated when `count < 3`), then
/// `loadgen.attribute.N` strings of `value_size` random characters.
pub(crate) fn item_attributes(
    call: &HttpCall,
    count: usize,
    value_size: usize,
    rng: &mut impl Rng,
) -> Vec<KeyValue> {
    let realistic = [
        string_attribute("http.request.method", call.method.to_owned()),
        string_attribute("url.path", call.path.clone()),
        int_attribute("http.response.status_code", call.status_code),
    ];
    let extra = (realistic.len()..count).map(|index| {
        let value: String = (&mut *rng)
            .sample_iter(Alphanumeric)
            .take(value_size)
            .map(char::from)
            .collect();
        string_attribute(&format!("loadgen.attribute.{index}"), value)
    });
    realistic.into_iter().take(count).chain(extra).collect()
}

/// The six resource attributes every request carries.
pub(crate) fn resource(service_name: &str, rng: &mut impl Rng) -> Resource {
    let instance_id = format!("{:032x}", rng.random::<u128>());
    Resource {
        attributes: vec![
            string_attribute("service.name", service_name.to_owned()),
            string_attribute("service.namespace", "shop".to_owned()),
            string_attribute("service.version", "1.8.3".to_owned()),
            string_attribute("service.instance.id", instance_id),
            string_attribute("deployment.environment.name", "bench".to_owned()),
            string_attribute("host.name", "loadgen-host-01".to_owned()),
        ],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

pub(crate) fn string_attribute(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
    }
}

fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
    }
}
