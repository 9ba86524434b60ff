//! `$filter` as the simulator understands it: comparisons (`eq ne gt ge lt le`) of a field
//! path (`MainContact/Email`) with a literal (`'text'` with `''` for a quote, numbers, `true`,
//! `false`, `null`, `datetimeoffset'…'`, `guid'…'`), `and`, `or`, `not`, parentheses, and the
//! functions `startswith`, `endswith` and `substringof`. Text compares case-insensitively, as
//! Acumatica's database collation does; a path into detail rows is refused.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::acumatica::schema::{self, FieldKind};
use crate::acumatica::value::{parse_datetime, parse_decimal};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Num(Decimal),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Cmp(String, String, Lit),
    Func(String, String, Lit),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Lit(Lit),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let quoted = |i: &mut usize| -> Result<String, String> {
        // chars[*i] is the opening quote
        let mut s = String::new();
        *i += 1;
        loop {
            match chars.get(*i) {
                None => return Err("unterminated string literal".into()),
                Some('\'') if chars.get(*i + 1) == Some(&'\'') => {
                    s.push('\'');
                    *i += 2;
                }
                Some('\'') => {
                    *i += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(*c);
                    *i += 1;
                }
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '\'' {
            out.push(Tok::Lit(Lit::Str(quoted(&mut i)?)));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let num: String = chars[start..i].iter().collect();
            if i < chars.len() && matches!(chars[i], 'm' | 'M' | 'd' | 'D' | 'L' | 'l') {
                i += 1;
            }
            out.push(Tok::Lit(Lit::Num(parse_decimal(&num)?)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '/' | '.'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if chars.get(i) == Some(&'\'') {
                // datetimeoffset'…', datetime'…', guid'…'
                let inner = quoted(&mut i)?;
                match word.to_ascii_lowercase().as_str() {
                    "datetimeoffset" | "datetime" | "guid" => out.push(Tok::Lit(Lit::Str(inner))),
                    other => return Err(format!("unknown literal type {other}")),
                }
                continue;
            }
            match word.as_str() {
                "true" => out.push(Tok::Lit(Lit::Bool(true))),
                "false" => out.push(Tok::Lit(Lit::Bool(false))),
                "null" => out.push(Tok::Lit(Lit::Null)),
                _ => out.push(Tok::Word(word)),
            }
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            other => Err(format!("expected {tok:?}, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Tok::Open) => {
                let e = self.or()?;
                self.expect(Tok::Close)?;
                Ok(e)
            }
            Some(Tok::Word(w)) if self.toks.get(self.pos) == Some(&Tok::Open) => self.function(w),
            Some(Tok::Word(field)) => {
                let op = match self.next() {
                    Some(Tok::Word(op))
                        if ["eq", "ne", "gt", "ge", "lt", "le"].contains(&op.as_str()) =>
                    {
                        op
                    }
                    other => {
                        return Err(format!(
                            "expected a comparison after {field}, found {other:?}"
                        ));
                    }
                };
                match self.next() {
                    Some(Tok::Lit(lit)) => Ok(Expr::Cmp(field, op, lit)),
                    other => Err(format!(
                        "expected a literal after {field} {op}, found {other:?}"
                    )),
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }

    fn function(&mut self, name: String) -> Result<Expr, String> {
        self.expect(Tok::Open)?;
        let a = self.next();
        self.expect(Tok::Comma)?;
        let b = self.next();
        self.expect(Tok::Close)?;
        let name = name.to_ascii_lowercase();
        match (name.as_str(), a, b) {
            ("startswith" | "endswith", Some(Tok::Word(f)), Some(Tok::Lit(l))) => {
                Ok(Expr::Func(name, f, l))
            }
            ("substringof", Some(Tok::Lit(l)), Some(Tok::Word(f))) => Ok(Expr::Func(name, f, l)),
            _ => Err(format!("unsupported function call {name}")),
        }
    }
}

/// Parses a `$filter` expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(e)
}

/// Checks the field paths of `expr` against entity type `ty`.
pub fn check(expr: &Expr, version: &str, ty: &str) -> Result<(), String> {
    match expr {
        Expr::Cmp(f, _, _) | Expr::Func(_, f, _) => resolve_kind(version, ty, f).map(|_| ()),
        Expr::And(a, b) | Expr::Or(a, b) => {
            check(a, version, ty)?;
            check(b, version, ty)
        }
        Expr::Not(a) => check(a, version, ty),
    }
}

fn resolve_kind(version: &str, ty: &str, path: &str) -> Result<String, String> {
    let mut current = ty.to_string();
    let segs: Vec<&str> = path.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match schema::kind(version, &current, seg) {
            Some(FieldKind::Value(w)) if last => return Ok(w),
            Some(FieldKind::Link(t)) if !last => current = t,
            Some(FieldKind::List(_)) => {
                return Err(format!(
                    "filtering on detail entities ({path}) is not supported"
                ));
            }
            _ => return Err(format!("the field {path} is not in {ty}")),
        }
    }
    Err(format!("the field {path} is not a value"))
}

/// Does `record` (plain form) match?
pub fn matches(expr: &Expr, version: &str, ty: &str, record: &Value) -> bool {
    match expr {
        Expr::And(a, b) => matches(a, version, ty, record) && matches(b, version, ty, record),
        Expr::Or(a, b) => matches(a, version, ty, record) || matches(b, version, ty, record),
        Expr::Not(a) => !matches(a, version, ty, record),
        Expr::Cmp(path, op, lit) => {
            let kind = resolve_kind(version, ty, path).unwrap_or_default();
            let value = lookup(record, path);
            let ord = compare(&kind, value, lit);
            match op.as_str() {
                "eq" => ord == Some(Ordering::Equal),
                "ne" => ord != Some(Ordering::Equal),
                "gt" => ord == Some(Ordering::Greater),
                "ge" => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                "lt" => ord == Some(Ordering::Less),
                "le" => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                _ => false,
            }
        }
        Expr::Func(name, path, Lit::Str(needle)) => {
            let Some(Value::String(hay)) = lookup(record, path) else {
                return false;
            };
            let (hay, needle) = (hay.to_lowercase(), needle.to_lowercase());
            match name.as_str() {
                "startswith" => hay.starts_with(&needle),
                "endswith" => hay.ends_with(&needle),
                _ => hay.contains(&needle),
            }
        }
        Expr::Func(..) => false,
    }
}

fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = record;
    for seg in path.split('/') {
        v = v.get(seg)?;
    }
    (!v.is_null()).then_some(v)
}

/// Orders a field's value against a literal; `None` when they cannot be compared. A missing
/// field equals `null` only.
fn compare(kind: &str, value: Option<&Value>, lit: &Lit) -> Option<Ordering> {
    let Some(value) = value else {
        return (*lit == Lit::Null).then_some(Ordering::Equal);
    };
    match lit {
        Lit::Null => None,
        Lit::Bool(b) => value.as_bool().map(|v| v.cmp(b)),
        Lit::Num(n) => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parse_decimal(&text).ok().map(|v| v.cmp(n))
        }
        Lit::Str(s) => {
            let text = value.as_str()?;
            if kind == "DateTime"
                && let (Ok(a), Ok(b)) = (parse_datetime(text), parse_datetime(s))
            {
                return Some(a.cmp(&b));
            }
            if matches!(
                kind,
                "Decimal" | "Double" | "Int" | "Short" | "Long" | "Byte"
            ) && let (Ok(a), Ok(b)) = (parse_decimal(text), parse_decimal(s))
            {
                return Some(a.cmp(&b));
            }
            Some(text.to_lowercase().cmp(&s.to_lowercase()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V: &str = "24.200.001";

    fn check_on(filter: &str, record: &Value) -> bool {
        let e = parse(filter).unwrap();
        check(&e, V, "Customer").unwrap();
        matches(&e, V, "Customer", record)
    }

    #[test]
    fn comparisons_paths_and_logic() {
        let c = json!({"CustomerID": "C1", "CreditLimit": "100.00", "MainContact": {"Email": "A'b@Example.com"}});
        assert!(check_on("MainContact/Email eq 'a''b@example.com'", &c));
        assert!(check_on(
            "CustomerID eq 'C1' and (CreditLimit gt 50 or CustomerID eq 'X')",
            &c
        ));
        assert!(!check_on(
            "CustomerID ne 'C1' or not (CreditLimit ge 100.0)",
            &c
        ));
        assert!(check_on(
            "CustomerName eq null and startswith(CustomerID,'c')",
            &c
        ));
        assert!(check_on("substringof('example',MainContact/Email)", &c));
        let e = parse("Contacts/Email eq 'x'").unwrap();
        assert!(check(&e, V, "Customer").is_err());
        assert!(check(&parse("Nope eq 1").unwrap(), V, "Customer").is_err());
        assert!(parse("CustomerID eq 'open").is_err());
        assert!(parse("CustomerID 'x'").is_err());
    }

    #[test]
    fn dates_compare_as_dates() {
        let c = json!({"LastModifiedDateTime": "2024-01-01T10:00:00+00:00"});
        assert!(check_on(
            "LastModifiedDateTime gt datetimeoffset'2024-01-01T11:00:00+02:00'",
            &c
        ));
    }
}
