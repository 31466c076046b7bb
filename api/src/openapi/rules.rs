//! The server's input rules, written into the OpenAPI document from the same constants and
//! tables the validators use, so that the document and the server agree both ways: a request
//! the document allows is served (or fails for a state reason, such as an amount above what
//! is left to capture), and a request it forbids is refused with a 4xx.
//!
//! utoipa's attributes take literals only, so the bounds are set here, after generation:
//! amounts (`minimum`, `maximum`, per currency exponent), the ISO 4217 `enum`, text lengths
//! and patterns, metadata bounds, `Idempotency-Key`, `page_size`, and the nullability of
//! parameters and optional bodies. What JSON Schema cannot state stays in the descriptions:
//! card numbers in free text are refused (a Luhn check), and `page_size` above 100 is served
//! as 100.

use std::collections::BTreeMap;

use utoipa::Modify;
use utoipa::openapi::path::{Operation, Parameter};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, Object, ObjectBuilder, Schema, SchemaType,
    Type,
};
use utoipa::openapi::{Components, OpenApi, Ref, RefOr, Required};

use crate::domain::idempotency;
use crate::domain::money::Currency;
use crate::domain::payment::{
    MAX_DESCRIPTION_CHARS, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_CHARS, MAX_METADATA_VALUE_CHARS,
    MAX_PAYMENT_METHOD_CHARS,
};

/// A payment method token as `AuthorizeRequest::validate` accepts it: `pm_`, then lowercase
/// ASCII letters, digits and `_`.
pub const PAYMENT_METHOD_PATTERN: &str = "^pm_[a-z0-9_]*$";

/// Free text (description, metadata keys and values): no control character (Unicode `Cc`)
/// but tab, line feed and carriage return.
pub const FREE_TEXT_PATTERN: &str =
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// An `Idempotency-Key`: visible ASCII (0x21 to 0x7E).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]+$";

/// Writes the rules into the document (see the module docs).
pub struct InputRules;

impl Modify for InputRules {
    fn modify(&self, openapi: &mut OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            authorize_request(components);
            amount_request(components);
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                parameters(operation);
                if let Some(body) = operation.request_body.as_mut() {
                    optional_body(body);
                }
            }
        }
    }
}

fn object<'a>(components: &'a mut Components, name: &str) -> Option<&'a mut Object> {
    match components.schemas.get_mut(name) {
        Some(RefOr::T(Schema::Object(object))) => Some(object),
        _ => None,
    }
}

fn property<'a>(object: &'a mut Object, name: &str) -> Option<&'a mut Object> {
    match object.properties.get_mut(name) {
        Some(RefOr::T(Schema::Object(property))) => Some(property),
        _ => None,
    }
}

fn largest_amount_minor() -> i64 {
    Currency::all()
        .into_iter()
        .map(Currency::max_amount_minor)
        .max()
        .unwrap_or(i64::MAX)
}

fn string(max_chars: usize, pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(pattern))
}

/// `AuthorizeRequest`: the field bounds, then one `anyOf` branch per ISO 4217 exponent that
/// ties the currency to its largest amount (`10^11` major units).
fn authorize_request(components: &mut Components) {
    const NAME: &str = "AuthorizeRequest";
    let Some(request) = object(components, NAME) else {
        return;
    };
    if let Some(amount) = property(request, "amount_minor") {
        amount.minimum = Some(1.into());
        amount.maximum = Some(largest_amount_minor().into());
    }
    if let Some(currency) = property(request, "currency") {
        currency.enum_values = Some(
            Currency::all()
                .into_iter()
                .map(|c| c.code().into())
                .collect(),
        );
    }
    if let Some(method) = property(request, "payment_method") {
        method.max_length = Some(MAX_PAYMENT_METHOD_CHARS);
        method.pattern = Some(PAYMENT_METHOD_PATTERN.to_owned());
    }
    if let Some(description) = property(request, "description") {
        description.max_length = Some(MAX_DESCRIPTION_CHARS);
        description.pattern = Some(FREE_TEXT_PATTERN.to_owned());
    }
    if let Some(metadata) = property(request, "metadata") {
        metadata.max_properties = Some(MAX_METADATA_ENTRIES);
        metadata.property_names = Some(Box::new(
            string(MAX_METADATA_KEY_CHARS, FREE_TEXT_PATTERN)
                .min_length(Some(1))
                .into(),
        ));
        metadata.additional_properties = Some(Box::new(AdditionalProperties::RefOr(RefOr::T(
            string(MAX_METADATA_VALUE_CHARS, FREE_TEXT_PATTERN).into(),
        ))));
    }
    let mut by_exponent: BTreeMap<u32, Vec<Currency>> = BTreeMap::new();
    for currency in Currency::all() {
        by_exponent
            .entry(currency.exponent())
            .or_default()
            .push(currency);
    }
    let mut branches = AnyOfBuilder::new();
    for (exponent, currencies) in by_exponent {
        let max = currencies
            .first()
            .map_or(i64::MAX, |currency| currency.max_amount_minor());
        branches = branches.item(
            ObjectBuilder::new()
                .description(Some(format!(
                    "Currencies with {exponent} minor digits: at most {max} minor units"
                )))
                .property(
                    "currency",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .enum_values(Some(currencies.iter().map(|c| c.code()))),
                )
                .property(
                    "amount_minor",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .maximum(Some(max)),
                ),
        );
    }
    let Some(RefOr::T(fields)) = components.schemas.remove(NAME) else {
        return;
    };
    components.schemas.insert(
        NAME.to_owned(),
        RefOr::T(Schema::AllOf(
            AllOfBuilder::new().item(fields).item(branches).build(),
        )),
    );
}

/// `AmountRequest`: a capture or refund amount is positive and never above the largest
/// authorization; below that, the payment's own remaining amount is the bound (a state rule).
fn amount_request(components: &mut Components) {
    if let Some(amount) =
        object(components, "AmountRequest").and_then(|request| property(request, "amount_minor"))
    {
        amount.minimum = Some(1.into());
        amount.maximum = Some(largest_amount_minor().into());
    }
}

/// Parameters are never `null` (an absent optional parameter is left out); `Idempotency-Key`
/// and `page_size` get their bounds.
fn parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let Parameter { name, schema, .. } = parameter;
        let Some(RefOr::T(Schema::Object(schema))) = schema.as_mut() else {
            continue;
        };
        if let SchemaType::Array(types) = &schema.schema_type {
            let kept: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            if let [only] = kept.as_slice() {
                schema.schema_type = SchemaType::Type(only.clone());
            }
        }
        if name.eq_ignore_ascii_case(idempotency::HEADER) {
            schema.min_length = Some(1);
            schema.max_length = Some(idempotency::MAX_KEY_LEN);
            schema.pattern = Some(IDEMPOTENCY_KEY_PATTERN.to_owned());
        } else if name == "page_size" {
            schema.minimum = Some(0.into());
        }
    }
}

/// A body that may be left out (`Option<T>` in a `request_body`, read by `OptionalApiJson`)
/// is optional, not nullable: an empty body means the defaults, a `null` body is refused.
fn optional_body(body: &mut RequestBody) {
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
            continue;
        };
        let is_null = |item: &RefOr<Schema>| {
            matches!(item, RefOr::T(Schema::Object(object))
                if object.schema_type == SchemaType::Type(Type::Null))
        };
        let rest: Vec<&RefOr<Schema>> = one_of.items.iter().filter(|item| !is_null(item)).collect();
        if let [RefOr::Ref(reference)] = rest.as_slice() {
            let reference: Ref = reference.clone();
            content.schema = Some(RefOr::Ref(reference));
            body.required = Some(Required::False);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::domain::money::Currency;

    fn document() -> Value {
        serde_json::from_str(&super::super::document().unwrap()).unwrap()
    }

    #[test]
    fn the_document_states_the_bounds_of_the_validators() {
        let doc = document();
        let authorize = &doc["components"]["schemas"]["AuthorizeRequest"]["allOf"];
        let fields = &authorize[0]["properties"];
        assert_eq!(fields["amount_minor"]["minimum"], 1);
        assert_eq!(fields["amount_minor"]["maximum"], 100_000_000_000_000_i64);
        let codes: Vec<&str> = Currency::all().into_iter().map(Currency::code).collect();
        assert_eq!(fields["currency"]["enum"], json!(codes));
        assert_eq!(fields["metadata"]["maxProperties"], 50);
        assert_eq!(fields["metadata"]["propertyNames"]["minLength"], 1);
        assert_eq!(fields["description"]["maxLength"], 1000);
        let branches = authorize[1]["anyOf"].as_array().unwrap();
        let jpy = branches
            .iter()
            .find(|b| {
                b["properties"]["currency"]["enum"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("JPY"))
            })
            .unwrap();
        assert_eq!(
            jpy["properties"]["amount_minor"]["maximum"],
            100_000_000_000_i64
        );
    }

    #[test]
    fn optional_bodies_and_parameters_are_never_null() {
        let doc = document();
        let capture = &doc["paths"]["/v1/payments/{id}/capture"]["post"];
        assert_eq!(capture["requestBody"]["required"], false);
        assert_eq!(
            capture["requestBody"]["content"]["application/json"]["schema"],
            json!({"$ref": "#/components/schemas/AmountRequest"})
        );
        for parameter in capture["parameters"].as_array().unwrap() {
            assert!(parameter["schema"]["type"].is_string(), "{parameter}");
        }
        assert_eq!(capture["parameters"][1]["schema"]["format"], "uuid");
        let list = &doc["paths"]["/v1/payments"]["get"]["parameters"];
        assert_eq!(list[0]["schema"]["minimum"], 0);
        assert_eq!(list[1]["schema"]["format"], "uuid");
    }
}
