//! OTTL boolean expressions as text: tokens and the syntax tree.
//!
//! The grammar is OTTL's condition grammar: `or` binds loosest, then `and`, then `not`; a term is a
//! comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`) of two values, a bare boolean value (a literal
//! or a function call such as `IsMatch(...)`), or a parenthesised expression. Values are string,
//! integer, float, boolean and `nil` literals, enum names (`SPAN_KIND_SERVER`), paths
//! (`resource.attributes["service.name"]`) and function calls.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Compare(CompareOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// A path as written: dotted names, then `["key"]` indexes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathText {
    pub(crate) names: Vec<String>,
    pub(crate) keys: Vec<String>,
}

impl fmt::Display for PathText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names.join("."))?;
        for key in &self.keys {
            write!(f, "[{key:?}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Literal(Literal),
    /// An upper-case name such as `SPAN_KIND_SERVER`, resolved when the condition is compiled.
    Enum(String),
    Path(PathText),
    Call {
        name: String,
        args: Vec<Value>,
    },
    /// `["a", "b"]`, as editors take key lists.
    List(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Value, CompareOp, Value),
    Truth(Value),
}

/// That function or editor `name` was given `wanted` arguments.
pub(crate) fn check_arity(name: &str, args: &[Value], wanted: usize) -> Result<(), String> {
    if args.len() == wanted {
        Ok(())
    } else {
        Err(format!(
            "{name} takes {wanted} argument(s), not {}",
            args.len()
        ))
    }
}

/// Parses one condition; the error says what was expected and where.
pub(crate) fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(format!(
            "unexpected {} after a complete condition",
            describe(token)
        )),
    }
}

/// An editing statement as written: `editor(args...)`, optionally `where condition`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatementText {
    pub(crate) editor: String,
    pub(crate) args: Vec<Value>,
    pub(crate) condition: Option<Expr>,
}

impl StatementText {
    /// The first name of every path in the statement, its condition included.
    pub(crate) fn leading_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        for arg in &self.args {
            value_names(arg, &mut names);
        }
        if let Some(condition) = &self.condition {
            expr_names(condition, &mut names);
        }
        names
    }
}

/// Parses one statement; the error says what was expected and where.
pub(crate) fn parse_statement(text: &str) -> Result<StatementText, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let Value::Call { name, args } = parser.value()? else {
        return Err("a statement starts with an editor call, such as set(...)".to_owned());
    };
    let condition = if parser.keyword("where") {
        Some(parser.or()?)
    } else {
        None
    };
    match parser.peek() {
        None => Ok(StatementText {
            editor: name,
            args,
            condition,
        }),
        Some(token) => Err(format!(
            "unexpected {} after a complete statement",
            describe(token)
        )),
    }
}

/// The first name of every path in `expr` (`span` of `span.name`), function arguments included.
pub(crate) fn leading_names(expr: &Expr) -> Vec<&str> {
    let mut names = Vec::new();
    expr_names(expr, &mut names);
    names
}

fn value_names<'a>(value: &'a Value, names: &mut Vec<&'a str>) {
    match value {
        Value::Path(path) => names.extend(path.names.first().map(String::as_str)),
        Value::Call { args, .. } | Value::List(args) => {
            args.iter().for_each(|arg| value_names(arg, names))
        }
        Value::Literal(_) | Value::Enum(_) => {}
    }
}

fn expr_names<'a>(expr: &'a Expr, names: &mut Vec<&'a str>) {
    match expr {
        Expr::Or(terms) | Expr::And(terms) => terms.iter().for_each(|t| expr_names(t, names)),
        Expr::Not(inner) => expr_names(inner, names),
        Expr::Compare(left, _, right) => {
            value_names(left, names);
            value_names(right, names);
        }
        Expr::Truth(value) => value_names(value, names),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        let start = at;
        at += 1;
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::LParen,
            ')' => Token::RParen,
            '[' => Token::LBracket,
            ']' => Token::RBracket,
            ',' => Token::Comma,
            '.' => Token::Dot,
            '=' | '!' | '<' | '>' => {
                let followed_by_eq = chars.get(at) == Some(&'=');
                if followed_by_eq {
                    at += 1;
                }
                Token::Compare(match (c, followed_by_eq) {
                    ('=', true) => CompareOp::Eq,
                    ('!', true) => CompareOp::Ne,
                    ('<', false) => CompareOp::Lt,
                    ('<', true) => CompareOp::Le,
                    ('>', false) => CompareOp::Gt,
                    ('>', true) => CompareOp::Ge,
                    _ => return Err(format!("unexpected {c:?} at offset {start}")),
                })
            }
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.get(at) {
                        None => return Err(format!("unterminated string at offset {start}")),
                        Some('"') => break,
                        Some('\\') => {
                            let escaped = chars.get(at + 1).ok_or("unterminated string")?;
                            value.push(match escaped {
                                'n' => '\n',
                                't' => '\t',
                                other => *other,
                            });
                            at += 2;
                            continue;
                        }
                        Some(other) => value.push(*other),
                    }
                    at += 1;
                }
                at += 1;
                Token::Str(value)
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(at).is_some_and(char::is_ascii_digit)) =>
            {
                while chars
                    .get(at)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                {
                    at += 1;
                }
                let number: String = chars[start..at].iter().collect();
                if let Ok(int) = number.parse() {
                    Token::Int(int)
                } else {
                    Token::Float(
                        number
                            .parse()
                            .map_err(|_| format!("{number:?} is not a number"))?,
                    )
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                while chars
                    .get(at)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    at += 1;
                }
                Token::Ident(chars[start..at].iter().collect())
            }
            other => return Err(format!("unexpected {other:?} at offset {start}")),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(name) => format!("{name:?}"),
        Token::Str(text) => format!("string {text:?}"),
        Token::Int(number) => number.to_string(),
        Token::Float(number) => number.to_string(),
        Token::Compare(op) => format!("{:?}", op.to_string()),
        Token::LParen => "\"(\"".into(),
        Token::RParen => "\")\"".into(),
        Token::LBracket => "\"[\"".into(),
        Token::RBracket => "\"]\"".into(),
        Token::Comma => "\",\"".into(),
        Token::Dot => "\".\"".into(),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Ident(name)) if name == word) {
            self.at += 1;
            return true;
        }
        false
    }

    fn expect(&mut self, wanted: &Token) -> Result<(), String> {
        match self.next() {
            Some(token) if token == *wanted => Ok(()),
            Some(token) => Err(format!(
                "expected {}, found {}",
                describe(wanted),
                describe(&token)
            )),
            None => Err(format!("expected {}, found the end", describe(wanted))),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.keyword("or") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.not()?];
        while self.keyword("and") {
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Token::LParen) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(&Token::RParen)?;
            return Ok(inner);
        }
        let left = self.value()?;
        if let Some(Token::Compare(op)) = self.peek() {
            let op = *op;
            self.at += 1;
            let right = self.value()?;
            return Ok(Expr::Compare(left, op, right));
        }
        Ok(Expr::Truth(left))
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Token::Str(text)) => Ok(Value::Literal(Literal::Str(text))),
            Some(Token::Int(number)) => Ok(Value::Literal(Literal::Int(number))),
            Some(Token::Float(number)) => Ok(Value::Literal(Literal::Float(number))),
            Some(Token::Ident(name)) => self.named(name),
            Some(Token::LBracket) => {
                let mut items = Vec::new();
                if self.peek() != Some(&Token::RBracket) {
                    loop {
                        items.push(self.value()?);
                        if self.peek() != Some(&Token::Comma) {
                            break;
                        }
                        self.at += 1;
                    }
                }
                self.expect(&Token::RBracket)?;
                Ok(Value::List(items))
            }
            Some(token) => Err(format!("expected a value, found {}", describe(&token))),
            None => Err("expected a value, found the end".to_owned()),
        }
    }

    /// What follows a name: a call, a path, a keyword literal or an enum.
    fn named(&mut self, name: String) -> Result<Value, String> {
        match name.as_str() {
            "true" => return Ok(Value::Literal(Literal::Bool(true))),
            "false" => return Ok(Value::Literal(Literal::Bool(false))),
            "nil" => return Ok(Value::Literal(Literal::Nil)),
            _ => {}
        }
        if self.peek() == Some(&Token::LParen) {
            self.at += 1;
            let mut args = Vec::new();
            if self.peek() != Some(&Token::RParen) {
                loop {
                    args.push(self.value()?);
                    if self.peek() != Some(&Token::Comma) {
                        break;
                    }
                    self.at += 1;
                }
            }
            self.expect(&Token::RParen)?;
            return Ok(Value::Call { name, args });
        }
        let is_enum = name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_enum && self.peek() != Some(&Token::Dot) {
            return Ok(Value::Enum(name));
        }
        let mut path = PathText {
            names: vec![name],
            keys: Vec::new(),
        };
        while self.peek() == Some(&Token::Dot) {
            self.at += 1;
            match self.next() {
                Some(Token::Ident(part)) => path.names.push(part),
                other => {
                    return Err(format!(
                        "expected a name after \".\" in {path}, found {}",
                        other.as_ref().map_or("the end".to_owned(), describe)
                    ));
                }
            }
        }
        while self.peek() == Some(&Token::LBracket) {
            self.at += 1;
            match self.next() {
                Some(Token::Str(key)) => path.keys.push(key),
                other => {
                    return Err(format!(
                        "expected a string key in {path}[...], found {}",
                        other.as_ref().map_or("the end".to_owned(), describe)
                    ));
                }
            }
            self.expect(&Token::RBracket)?;
        }
        Ok(Value::Path(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(names: &[&str], keys: &[&str]) -> Value {
        Value::Path(PathText {
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            keys: keys.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    #[test]
    fn comparisons_of_paths_and_literals() {
        assert_eq!(
            parse(r#"attributes["http.route"] == "/health""#).unwrap(),
            Expr::Compare(
                path(&["attributes"], &["http.route"]),
                CompareOp::Eq,
                Value::Literal(Literal::Str("/health".into()))
            )
        );
        assert_eq!(
            parse("severity_number < SEVERITY_NUMBER_WARN").unwrap(),
            Expr::Compare(
                path(&["severity_number"], &[]),
                CompareOp::Lt,
                Value::Enum("SEVERITY_NUMBER_WARN".into())
            )
        );
        assert_eq!(
            parse("value_double >= -1.5").unwrap(),
            Expr::Compare(
                path(&["value_double"], &[]),
                CompareOp::Ge,
                Value::Literal(Literal::Float(-1.5))
            )
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let expr = parse(r#"name == "a" or not kind == 2 and IsMatch(name, "b")"#).unwrap();
        let Expr::Or(terms) = expr else {
            panic!("or at the top")
        };
        assert!(matches!(terms[0], Expr::Compare(..)));
        let Expr::And(and_terms) = &terms[1] else {
            panic!("and below or")
        };
        assert!(matches!(and_terms[0], Expr::Not(_)));
        assert_eq!(
            and_terms[1],
            Expr::Truth(Value::Call {
                name: "IsMatch".into(),
                args: vec![
                    path(&["name"], &[]),
                    Value::Literal(Literal::Str("b".into()))
                ]
            })
        );
        let grouped = parse(r#"(name == "a" or name == "b") and kind == 1"#).unwrap();
        assert!(matches!(grouped, Expr::And(_)));
    }

    #[test]
    fn strings_take_escapes() {
        assert_eq!(
            parse(r#"body == "say \"hi\"\n""#).unwrap(),
            Expr::Compare(
                path(&["body"], &[]),
                CompareOp::Eq,
                Value::Literal(Literal::Str("say \"hi\"\n".into()))
            )
        );
    }

    #[test]
    fn malformed_conditions_say_what_is_wrong() {
        let cases = [
            ("name ==", "expected a value, found the end"),
            (r#"attributes[1] == "x""#, "expected a string key"),
            (
                r#"name == "a" name"#,
                "unexpected \"name\" after a complete condition",
            ),
            (r#"name == "a"#, "unterminated string"),
            ("IsMatch(name, \"x\"", "expected \")\", found the end"),
            ("name = 1", "unexpected '='"),
            ("name == 1 ;", "unexpected ';'"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
