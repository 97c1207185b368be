//! Conditions compiled for one context and evaluated against items.
//!
//! Comparisons follow OTTL: `nil` equals only `nil`; strings compare as text, ints and floats as
//! numbers (an int against a float numerically); booleans support `==` and `!=`; values of
//! different types are unequal and never ordered. Functions: `IsMatch(value, "regexp")` (scalars
//! are matched as text), `IsString`, `IsInt`, `IsDouble`, `IsBool`, `IsMap`, `IsList`, and in the
//! metric context `HasAttrKeyOnDatapoint("key")` and `HasAttrOnDatapoint("key", "value")`.

use crate::converters::{Converter, compile_converter, convert};
use crate::fields::{Context, Field, Item, ItemKind, Val, resolve};
use crate::syntax::{CompareOp, Expr, Literal, Value, check_arity, leading_names, parse};
use cormorant_attribute_rules::severity_number;
use cormorant_core::pdata::common::any_value;
use cormorant_core::pdata::metrics::metric::Data;
use regex::Regex;
use std::borrow::Cow;
use std::cmp::Ordering;

/// A compiled condition: true means the item is dropped.
#[derive(Debug, Clone)]
pub struct Condition {
    expr: Compiled,
}

#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Or(Vec<Compiled>),
    And(Vec<Compiled>),
    Not(Box<Compiled>),
    Compare(Operand, CompareOp, Operand),
    Truth(Operand),
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Const(Literal),
    Field(Field),
    Call(Function),
    Convert(Converter),
}

#[derive(Debug, Clone)]
pub(crate) enum Function {
    IsMatch(Box<Operand>, Regex),
    IsType(Box<Operand>, TypeTest),
    HasAttributeOnDataPoint { key: String, value: Option<String> },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TypeTest {
    String,
    Int,
    Double,
    Bool,
    Map,
    List,
}

impl Condition {
    /// Parses and compiles `text` for `context`; the error quotes the condition.
    pub fn compile(text: &str, context: Context) -> Result<Condition, String> {
        let expr = parse(text)
            .and_then(|expr| compile_expr(&expr, context))
            .map_err(|err| format!("condition {text:?}: {err}"))?;
        Ok(Condition { expr })
    }

    /// Compiles `text` in the context its paths name (`spanevent.name` → `spanevent`), for the
    /// context-inferred `*_conditions` lists: `alternative` when a path starts with its name,
    /// `default` otherwise.
    pub fn compile_inferred(
        text: &str,
        default: Context,
        alternative: Context,
    ) -> Result<(Context, Condition), String> {
        let in_condition = |err: String| format!("condition {text:?}: {err}");
        let expr = parse(text).map_err(in_condition)?;
        let context = if leading_names(&expr).contains(&alternative.name()) {
            alternative
        } else {
            default
        };
        let expr = compile_expr(&expr, context).map_err(in_condition)?;
        Ok((context, Condition { expr }))
    }

    pub fn matches(&self, item: &Item<'_>) -> bool {
        eval(&self.expr, item)
    }
}

pub(crate) fn compile_expr(expr: &Expr, context: Context) -> Result<Compiled, String> {
    let all = |terms: &[Expr]| -> Result<Vec<Compiled>, String> {
        terms
            .iter()
            .map(|term| compile_expr(term, context))
            .collect()
    };
    Ok(match expr {
        Expr::Or(terms) => Compiled::Or(all(terms)?),
        Expr::And(terms) => Compiled::And(all(terms)?),
        Expr::Not(inner) => Compiled::Not(Box::new(compile_expr(inner, context)?)),
        Expr::Compare(left, op, right) => Compiled::Compare(
            compile_value(left, context)?,
            *op,
            compile_value(right, context)?,
        ),
        Expr::Truth(value) => Compiled::Truth(compile_value(value, context)?),
    })
}

pub(crate) fn compile_value(value: &Value, context: Context) -> Result<Operand, String> {
    Ok(match value {
        Value::Literal(literal) => Operand::Const(literal.clone()),
        Value::Enum(name) => Operand::Const(Literal::Int(
            enum_value(name).ok_or_else(|| format!("unknown enum {name}"))?,
        )),
        Value::Path(path) => Operand::Field(resolve(path, context)?),
        Value::Call { name, args } => match compile_converter(name, args, context) {
            Some(converter) => Operand::Convert(converter?),
            None => Operand::Call(compile_call(name, args, context)?),
        },
        Value::List(_) => return Err("a list is only an editor's argument".to_owned()),
    })
}

fn compile_call(name: &str, args: &[Value], context: Context) -> Result<Function, String> {
    let string_arg = |index: usize| match args.get(index) {
        Some(Value::Literal(Literal::Str(text))) => Ok(text.clone()),
        _ => Err(format!(
            "{name}: argument {} must be a string literal",
            index + 1
        )),
    };
    let arity = |wanted: usize| check_arity(name, args, wanted);
    let type_test = |test| -> Result<Function, String> {
        arity(1)?;
        Ok(Function::IsType(
            Box::new(compile_value(&args[0], context)?),
            test,
        ))
    };
    match name {
        "IsMatch" => {
            arity(2)?;
            let pattern = string_arg(1)?;
            let regex = Regex::new(&pattern)
                .map_err(|err| format!("IsMatch: invalid regular expression {pattern:?}: {err}"))?;
            Ok(Function::IsMatch(
                Box::new(compile_value(&args[0], context)?),
                regex,
            ))
        }
        "IsString" => type_test(TypeTest::String),
        "IsInt" => type_test(TypeTest::Int),
        "IsDouble" => type_test(TypeTest::Double),
        "IsBool" => type_test(TypeTest::Bool),
        "IsMap" => type_test(TypeTest::Map),
        "IsList" => type_test(TypeTest::List),
        "HasAttrKeyOnDatapoint" | "HasAttrOnDatapoint" if context != Context::Metric => {
            Err(format!("{name} is only available in the metric context"))
        }
        "HasAttrKeyOnDatapoint" => {
            arity(1)?;
            Ok(Function::HasAttributeOnDataPoint {
                key: string_arg(0)?,
                value: None,
            })
        }
        "HasAttrOnDatapoint" => {
            arity(2)?;
            Ok(Function::HasAttributeOnDataPoint {
                key: string_arg(0)?,
                value: Some(string_arg(1)?),
            })
        }
        other => Err(format!(
            "function {other} is not supported; supported: IsMatch, IsString, IsInt, \
             IsDouble, IsBool, IsMap, IsList, HasAttrKeyOnDatapoint, HasAttrOnDatapoint, \
             Concat, ToLowerCase, ToUpperCase, Substring, String, Int, Double, Len, SHA256"
        )),
    }
}

/// OTTL's enum names and their numbers.
fn enum_value(name: &str) -> Option<i64> {
    const FIXED: [(&str, i64); 17] = [
        ("SPAN_KIND_UNSPECIFIED", 0),
        ("SPAN_KIND_INTERNAL", 1),
        ("SPAN_KIND_SERVER", 2),
        ("SPAN_KIND_CLIENT", 3),
        ("SPAN_KIND_PRODUCER", 4),
        ("SPAN_KIND_CONSUMER", 5),
        ("STATUS_CODE_UNSET", 0),
        ("STATUS_CODE_OK", 1),
        ("STATUS_CODE_ERROR", 2),
        ("METRIC_DATA_TYPE_NONE", 0),
        ("METRIC_DATA_TYPE_GAUGE", 1),
        ("METRIC_DATA_TYPE_SUM", 2),
        ("METRIC_DATA_TYPE_HISTOGRAM", 3),
        ("METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4),
        ("METRIC_DATA_TYPE_SUMMARY", 5),
        ("AGGREGATION_TEMPORALITY_UNSPECIFIED", 0),
        ("AGGREGATION_TEMPORALITY_DELTA", 1),
    ];
    if name == "AGGREGATION_TEMPORALITY_CUMULATIVE" {
        return Some(2);
    }
    if let Some((_, value)) = FIXED.iter().find(|(fixed, _)| *fixed == name) {
        return Some(*value);
    }
    name.strip_prefix("SEVERITY_NUMBER_")
        .and_then(severity_number)
        .map(i64::from)
}

pub(crate) fn eval(expr: &Compiled, item: &Item<'_>) -> bool {
    match expr {
        Compiled::Or(terms) => terms.iter().any(|term| eval(term, item)),
        Compiled::And(terms) => terms.iter().all(|term| eval(term, item)),
        Compiled::Not(inner) => !eval(inner, item),
        Compiled::Compare(left, op, right) => compare(&value(left, item), *op, &value(right, item)),
        Compiled::Truth(operand) => value(operand, item) == Val::Bool(true),
    }
}

/// The value of `operand`; literals are borrowed from the condition, so `'v` is the shorter of
/// the condition's and the item's lifetimes.
pub(crate) fn value<'v>(operand: &'v Operand, item: &Item<'v>) -> Val<'v> {
    match operand {
        Operand::Const(literal) => match literal {
            Literal::Str(text) => Val::Str(Cow::Borrowed(text)),
            Literal::Int(number) => Val::Int(*number),
            Literal::Float(number) => Val::Float(*number),
            Literal::Bool(flag) => Val::Bool(*flag),
            Literal::Nil => Val::Nil,
        },
        Operand::Field(field) => field.read(item),
        Operand::Call(function) => Val::Bool(call(function, item)),
        Operand::Convert(converter) => convert(converter, item),
    }
}

fn call(function: &Function, item: &Item<'_>) -> bool {
    match function {
        Function::IsMatch(target, regex) => match value(target, item) {
            Val::Str(text) => regex.is_match(&text),
            Val::Int(number) => regex.is_match(&number.to_string()),
            Val::Float(number) => regex.is_match(&number.to_string()),
            Val::Bool(flag) => regex.is_match(&flag.to_string()),
            Val::Nil | Val::Other(_) => false,
        },
        Function::IsType(target, test) => {
            let found = value(target, item);
            match (test, found) {
                (TypeTest::String, Val::Str(_))
                | (TypeTest::Int, Val::Int(_))
                | (TypeTest::Double, Val::Float(_))
                | (TypeTest::Bool, Val::Bool(_)) => true,
                (TypeTest::Map, Val::Other(any)) => {
                    matches!(any.value, Some(any_value::Value::KvlistValue(_)))
                }
                (TypeTest::List, Val::Other(any)) => {
                    matches!(any.value, Some(any_value::Value::ArrayValue(_)))
                }
                _ => false,
            }
        }
        Function::HasAttributeOnDataPoint { key, value: wanted } => {
            let ItemKind::Metric(metric) = item.kind else {
                return false;
            };
            let has = |attributes: &[cormorant_core::pdata::common::KeyValue]| {
                attributes.iter().any(|kv| {
                    kv.key == *key
                        && wanted.as_ref().is_none_or(|wanted| {
                            Val::of(kv.value.as_ref()) == Val::Str(Cow::Borrowed(wanted))
                        })
                })
            };
            match metric.data.as_ref() {
                Some(Data::Gauge(g)) => g.data_points.iter().any(|p| has(&p.attributes)),
                Some(Data::Sum(s)) => s.data_points.iter().any(|p| has(&p.attributes)),
                Some(Data::Histogram(h)) => h.data_points.iter().any(|p| has(&p.attributes)),
                Some(Data::ExponentialHistogram(h)) => {
                    h.data_points.iter().any(|p| has(&p.attributes))
                }
                Some(Data::Summary(s)) => s.data_points.iter().any(|p| has(&p.attributes)),
                None => false,
            }
        }
    }
}

fn compare(left: &Val<'_>, op: CompareOp, right: &Val<'_>) -> bool {
    let ordering = match (left, right) {
        (Val::Nil, Val::Nil) => Some(Ordering::Equal),
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
        (Val::Float(a), Val::Float(b)) => a.partial_cmp(b),
        (Val::Int(a), Val::Float(b)) => (*a as f64).partial_cmp(b),
        (Val::Float(a), Val::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Val::Bool(a), Val::Bool(b)) => {
            return match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                _ => false,
            };
        }
        (Val::Other(a), Val::Other(b)) if a == b => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (CompareOp::Eq, Some(order)) => order == Ordering::Equal,
        (CompareOp::Ne, order) => order != Some(Ordering::Equal),
        (CompareOp::Lt, Some(order)) => order == Ordering::Less,
        (CompareOp::Le, Some(order)) => order != Ordering::Greater,
        (CompareOp::Gt, Some(order)) => order == Ordering::Greater,
        (CompareOp::Ge, Some(order)) => order != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
