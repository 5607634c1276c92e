//! List queries: Temporal's list-filter syntax over the system attributes
//! (`ExecutionId`, `WorkflowType`, `ExecutionStatus`, `StartTime`,
//! `CloseTime`, `Module`) and the custom search attributes, for example
//! `CustomerId = "c-42" AND ExecutionStatus = "running" AND StartTime > "2026-11-01"`.
//!
//! A query is parsed, then bound to the host's attribute types (each
//! literal becomes a value of its attribute's type), then evaluated against
//! each execution's head. An error names the character it is at.

use crate::model::search::{parse_datetime, SearchType, SearchValue, SYSTEM_ATTRIBUTES};
use crate::store::ExecutionHead;

/// A query that does not parse or does not fit the attributes it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad query at character {at}: {message}\n  {query}\n  {pointer}^")]
pub struct QueryError {
    /// 1-based position in the query, in characters.
    pub at: usize,
    pub message: String,
    query: String,
    pointer: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    /// A backquoted name: never a keyword.
    QName(String),
    Str(String),
    Num(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed query: names and literals as written, with their positions.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare {
        name: (String, usize),
        cmp: Cmp,
        value: (Literal, usize),
    },
    In {
        name: (String, usize),
        negated: bool,
        values: Vec<(Literal, usize)>,
    },
    Between {
        name: (String, usize),
        negated: bool,
        low: (Literal, usize),
        high: (Literal, usize),
    },
    StartsWith {
        name: (String, usize),
        prefix: (Literal, usize),
    },
    IsNull {
        name: (String, usize),
        negated: bool,
    },
}

/// What a name refers to.
#[derive(Debug, Clone, PartialEq)]
enum Attr {
    Id,
    WorkflowType,
    Status,
    StartTime,
    CloseTime,
    Module,
    Custom(String, SearchType),
}

/// A query bound to the host's types, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Compare(Attr, Cmp, SearchValue),
    In(Attr, bool, Vec<SearchValue>),
    Between(Attr, bool, SearchValue, SearchValue),
    StartsWith(Attr, String),
    IsNull(Attr, bool),
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    query: &'a str,
}

impl<'a> Lexer<'a> {
    fn error(&self, at: usize, message: impl Into<String>) -> QueryError {
        error(self.query, at, message)
    }

    /// The next token and the (1-based) character it starts at.
    fn next(&mut self) -> Result<(Token, usize), QueryError> {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
        let start = self.pos;
        let at = start + 1;
        let Some(&c) = self.chars.get(self.pos) else {
            return Ok((Token::End, at));
        };
        let two: String = self.chars[self.pos..].iter().take(2).collect();
        let token = match c {
            '(' => Token::LParen,
            ')' => Token::RParen,
            ',' => Token::Comma,
            _ if ["<=", ">=", "!=", "<>"].contains(&two.as_str()) => {
                self.pos += 2;
                return Ok((
                    Token::Op(match two.as_str() {
                        "<=" => "<=",
                        ">=" => ">=",
                        _ => "!=",
                    }),
                    at,
                ));
            }
            '=' => Token::Op("="),
            '<' => Token::Op("<"),
            '>' => Token::Op(">"),
            '\'' | '"' | '`' => {
                let mut text = String::new();
                self.pos += 1;
                loop {
                    match self.chars.get(self.pos) {
                        None => {
                            let what = if c == '`' { "a name" } else { "a string" };
                            return Err(
                                self.error(at, format!("this {c} opens {what} that never closes"))
                            );
                        }
                        Some('\\') if self.chars.get(self.pos + 1).is_some() => {
                            text.push(self.chars[self.pos + 1]);
                            self.pos += 2;
                        }
                        // SQL's doubled quote: `'it''s'`.
                        Some(&q) if q == c && self.chars.get(self.pos + 1) == Some(&c) => {
                            text.push(c);
                            self.pos += 2;
                        }
                        Some(&q) if q == c => {
                            self.pos += 1;
                            break;
                        }
                        Some(&other) => {
                            text.push(other);
                            self.pos += 1;
                        }
                    }
                }
                // A backquoted name is a name, whatever it holds.
                return Ok((
                    if c == '`' {
                        Token::QName(text)
                    } else {
                        Token::Str(text)
                    },
                    at,
                ));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let mut end = self.pos + 1;
                while self.chars.get(end).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':')
                }) {
                    end += 1;
                }
                let text: String = self.chars[self.pos..end].iter().collect();
                self.pos = end;
                return Ok((Token::Num(text), at));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = self.pos + 1;
                while self
                    .chars
                    .get(end)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    end += 1;
                }
                let text: String = self.chars[self.pos..end].iter().collect();
                self.pos = end;
                return Ok((Token::Name(text), at));
            }
            other => {
                return Err(self.error(
                    at,
                    format!("unexpected {other:?}: expected a name, a value or an operator"),
                ))
            }
        };
        self.pos += 1;
        Ok((token, at))
    }
}

fn error(query: &str, at: usize, message: impl Into<String>) -> QueryError {
    let pointer = query
        .chars()
        .take(at.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    QueryError {
        at,
        message: message.into(),
        query: query.to_owned(),
        pointer,
    }
}

struct Parser<'a> {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    query: &'a str,
    /// Parentheses open now.
    depth: usize,
    /// Conditions read so far.
    conditions: usize,
}

/// The most conditions (comparisons, IN, BETWEEN...) one query holds, and
/// the most values of one IN.
pub const MAX_CONDITIONS: usize = 1_000;
/// How deep parentheses may nest.
pub const MAX_DEPTH: usize = 16;

/// Why a word that SQL users write after a condition is refused.
fn unsupported(word: &str) -> Option<String> {
    let up = word.to_ascii_uppercase();
    match up.as_str() {
        "ORDER" | "GROUP" => Some(format!(
            "{up} BY is not supported: executions are listed newest first"
        )),
        "LIMIT" => Some("LIMIT is not supported: give the page size (--limit, limit=)".into()),
        "NOT" => Some(
            "NOT is not supported before a condition: use !=, NOT IN, NOT BETWEEN or IS NOT NULL"
                .into(),
        ),
        _ => None,
    }
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Name(n) if n.eq_ignore_ascii_case(word))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Name(n) | Token::QName(n) => format!("`{n}`"),
        Token::Str(s) => format!("the string {s:?}"),
        Token::Num(n) => format!("the number {n}"),
        Token::Op(o) => format!("`{o}`"),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Comma => "`,`".into(),
        Token::End => "the end of the query".into(),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &(Token, usize) {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> (Token, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn fail<T>(&self, expected: &str) -> Result<T, QueryError> {
        let (token, at) = self.peek();
        Err(error(
            self.query,
            *at,
            format!("expected {expected}, found {}", describe(token)),
        ))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if is_word(&self.peek().0, word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Terms joined by OR (a flat list: a long query takes no stack).
    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut terms = vec![self.and()?];
        while self.eat_word("OR") {
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut terms = vec![self.primary()?];
        while self.eat_word("AND") {
            terms.push(self.primary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        if self.peek().0 == Token::LParen {
            let at = self.peek().1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(error(
                    self.query,
                    at,
                    format!("parentheses nest deeper than {MAX_DEPTH}: write the query flatter"),
                ));
            }
            self.pos += 1;
            let inner = self.or()?;
            if self.peek().0 != Token::RParen {
                return self.fail("`)` or AND/OR");
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        let name = match self.bump() {
            (Token::Name(n), at) => {
                if let Some(message) = unsupported(&n) {
                    return Err(error(self.query, at, message));
                }
                (n, at)
            }
            (Token::QName(n), at) => (n, at),
            _ => {
                self.pos -= 1;
                return self.fail("an attribute name or `(`");
            }
        };
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(error(
                self.query,
                name.1,
                format!(
                    "the query has more than {MAX_CONDITIONS} conditions: split it, or use IN \
                     for many values of one attribute"
                ),
            ));
        }
        let (token, at) = self.peek().clone();
        match token {
            Token::Op(op) => {
                self.pos += 1;
                let cmp = match op {
                    "=" => Cmp::Eq,
                    "!=" => Cmp::Ne,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    ">" => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                let value = self.literal()?;
                Ok(Expr::Compare { name, cmp, value })
            }
            _ if is_word(&token, "STARTS_WITH") => {
                self.pos += 1;
                Ok(Expr::StartsWith {
                    name,
                    prefix: self.literal()?,
                })
            }
            _ if is_word(&token, "IS") => {
                self.pos += 1;
                let negated = self.eat_word("NOT");
                if !self.eat_word("NULL") {
                    return self.fail("NULL");
                }
                Ok(Expr::IsNull { name, negated })
            }
            _ if is_word(&token, "NOT") || is_word(&token, "IN") || is_word(&token, "BETWEEN") => {
                let negated = self.eat_word("NOT");
                if self.eat_word("IN") {
                    if self.peek().0 != Token::LParen {
                        return self.fail("`(` and a list of values");
                    }
                    self.pos += 1;
                    let mut values = vec![self.literal()?];
                    while self.peek().0 == Token::Comma {
                        self.pos += 1;
                        values.push(self.literal()?);
                        if values.len() > MAX_CONDITIONS {
                            return Err(error(
                                self.query,
                                self.peek().1,
                                format!("IN takes at most {MAX_CONDITIONS} values"),
                            ));
                        }
                    }
                    if self.peek().0 != Token::RParen {
                        return self.fail("`,` or `)`");
                    }
                    self.pos += 1;
                    Ok(Expr::In {
                        name,
                        negated,
                        values,
                    })
                } else if self.eat_word("BETWEEN") {
                    let low = self.literal()?;
                    if !self.eat_word("AND") {
                        return self.fail("AND (BETWEEN low AND high)");
                    }
                    let high = self.literal()?;
                    Ok(Expr::Between {
                        name,
                        negated,
                        low,
                        high,
                    })
                } else {
                    self.fail("IN or BETWEEN after NOT")
                }
            }
            _ => Err(error(
                self.query,
                at,
                format!(
                    "expected an operator after {} (=, !=, <, <=, >, >=, IN, BETWEEN, \
                     STARTS_WITH, IS NULL), found {}",
                    name.0,
                    describe(&token)
                ),
            )),
        }
    }

    fn literal(&mut self) -> Result<(Literal, usize), QueryError> {
        match self.bump() {
            (Token::Str(s), at) => Ok((Literal::Str(s), at)),
            (Token::Num(n), at) => Ok((Literal::Num(n), at)),
            (Token::Name(n), at) if n.eq_ignore_ascii_case("true") => Ok((Literal::Bool(true), at)),
            (Token::Name(n), at) if n.eq_ignore_ascii_case("false") => {
                Ok((Literal::Bool(false), at))
            }
            (Token::Name(n) | Token::QName(n), at) => Err(error(
                self.query,
                at,
                format!("expected a value, found the name `{n}`: quote a string (\"{n}\")"),
            )),
            _ => {
                self.pos -= 1;
                self.fail("a value (a quoted string, a number, true or false)")
            }
        }
    }
}

impl Query {
    /// Parses `text` and binds it to the attribute types `custom` knows (by
    /// name; the system attributes are always known).
    pub fn parse(
        text: &str,
        custom: impl Fn(&str) -> Option<SearchType>,
        known: impl Fn() -> Vec<String>,
    ) -> Result<Self, QueryError> {
        let mut lexer = Lexer {
            chars: text.chars().collect(),
            pos: 0,
            query: text,
        };
        let mut tokens = Vec::new();
        loop {
            let t = lexer.next()?;
            let end = t.0 == Token::End;
            tokens.push(t);
            if end {
                break;
            }
        }
        let mut parser = Parser {
            tokens,
            pos: 0,
            query: text,
            depth: 0,
            conditions: 0,
        };
        if parser.peek().0 == Token::End {
            return parser.fail("a condition such as WorkflowType = \"orders\"");
        }
        let expr = parser.or()?;
        match parser.peek() {
            (Token::End, _) => {}
            (Token::Name(word), at)
                if unsupported(word).is_some() && !word.eq_ignore_ascii_case("NOT") =>
            {
                let message = unsupported(word).unwrap_or_default();
                return Err(error(text, *at, message));
            }
            _ => return parser.fail("AND, OR or the end of the query"),
        }
        let binder = Binder {
            query: text,
            custom: &custom,
            known: &known,
        };
        Ok(Self(binder.bind(expr)?))
    }

    /// Whether the execution `head` matches.
    pub fn matches(&self, head: &ExecutionHead) -> bool {
        self.0.eval(head)
    }
}

struct Binder<'a> {
    query: &'a str,
    custom: &'a dyn Fn(&str) -> Option<SearchType>,
    known: &'a dyn Fn() -> Vec<String>,
}

impl Binder<'_> {
    fn attr(&self, (name, at): &(String, usize)) -> Result<Attr, QueryError> {
        let system = SYSTEM_ATTRIBUTES
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(name))
            .map(|(s, _)| *s);
        Ok(match system {
            Some("ExecutionId" | "WorkflowId") => Attr::Id,
            Some("WorkflowType") => Attr::WorkflowType,
            Some("ExecutionStatus") => Attr::Status,
            Some("StartTime") => Attr::StartTime,
            Some("CloseTime") => Attr::CloseTime,
            Some(_) => Attr::Module,
            None => match (self.custom)(name) {
                Some(t) => Attr::Custom(name.clone(), t),
                None => {
                    let mut known: Vec<String> = SYSTEM_ATTRIBUTES
                        .iter()
                        .map(|(s, _)| s.to_string())
                        .collect();
                    known.extend((self.known)());
                    return Err(error(
                        self.query,
                        *at,
                        format!(
                            "no search attribute named {name} on this host (names are case \
                             sensitive; known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            },
        })
    }

    fn value(&self, attr: &Attr, (lit, at): &(Literal, usize)) -> Result<SearchValue, QueryError> {
        let ty = attr.search_type();
        let bad = |expected: &str| {
            Err(error(
                self.query,
                *at,
                format!("{} has type {ty}: expected {expected}", attr.name()),
            ))
        };
        Ok(match (ty, lit) {
            (SearchType::Keyword | SearchType::KeywordList, Literal::Str(s)) => {
                if *attr == Attr::Status {
                    // Any case, and Temporal's spelling `Canceled`.
                    let lower = s.to_ascii_lowercase();
                    let lower = if lower == "canceled" {
                        "cancelled".to_owned()
                    } else {
                        lower
                    };
                    let Ok(status) = lower.parse::<crate::model::ExecutionStatus>() else {
                        return Err(error(
                            self.query,
                            *at,
                            format!(
                                "{s:?} is no execution status: expected running, stalled, \
                                 completed, failed, cancelled or terminated"
                            ),
                        ));
                    };
                    return Ok(SearchValue::Keyword(status.as_str().to_owned()));
                }
                SearchValue::Keyword(s.clone())
            }
            (SearchType::Keyword | SearchType::KeywordList, _) => return bad("a quoted string"),
            (SearchType::Text, Literal::Str(s)) => SearchValue::Text(s.clone()),
            (SearchType::Text, _) => return bad("a quoted string"),
            (SearchType::Int, Literal::Num(n)) => match n.parse() {
                Ok(i) => SearchValue::Int(i),
                Err(_)
                    if n.trim_start_matches(['-', '+'])
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
                {
                    return Err(error(
                        self.query,
                        *at,
                        format!("{n} is out of range of an int (64 bits)"),
                    ))
                }
                Err(_) => return bad("a whole number"),
            },
            (SearchType::Int, _) => return bad("a whole number"),
            (SearchType::Double, Literal::Num(n)) => match n.parse::<f64>() {
                Ok(d) if d.is_finite() => SearchValue::Double(d),
                _ => return bad("a number"),
            },
            (SearchType::Double, _) => return bad("a number"),
            (SearchType::Bool, Literal::Bool(b)) => SearchValue::Bool(*b),
            (SearchType::Bool, Literal::Str(s)) if s.eq_ignore_ascii_case("true") => {
                SearchValue::Bool(true)
            }
            (SearchType::Bool, Literal::Str(s)) if s.eq_ignore_ascii_case("false") => {
                SearchValue::Bool(false)
            }
            (SearchType::Bool, _) => return bad("true or false"),
            (SearchType::Datetime, Literal::Str(s)) => match parse_datetime(s) {
                Ok(ms) => SearchValue::Datetime(ms),
                Err(problem) => return Err(error(self.query, *at, problem)),
            },
            (SearchType::Datetime, Literal::Num(n)) => match n.parse() {
                Ok(ms) => SearchValue::Datetime(ms),
                Err(_) => match parse_datetime(n) {
                    Ok(ms) => SearchValue::Datetime(ms),
                    Err(_) => {
                        return bad(
                            "a quoted RFC 3339 time (\"2026-11-01T09:30:00Z\"), a date or ms",
                        )
                    }
                },
            },
            (SearchType::Datetime, _) => {
                return bad("a quoted RFC 3339 time (\"2026-11-01T09:30:00Z\"), a date or ms")
            }
        })
    }

    fn bind(&self, expr: Expr) -> Result<Node, QueryError> {
        Ok(match expr {
            Expr::And(terms) => Node::And(
                terms
                    .into_iter()
                    .map(|t| self.bind(t))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(terms) => Node::Or(
                terms
                    .into_iter()
                    .map(|t| self.bind(t))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Compare { name, cmp, value } => {
                let attr = self.attr(&name)?;
                let ty = attr.search_type();
                let ordered = !matches!(
                    ty,
                    SearchType::Text | SearchType::Bool | SearchType::KeywordList
                ) && attr != Attr::Status;
                if !matches!(cmp, Cmp::Eq | Cmp::Ne) && !ordered {
                    return Err(error(
                        self.query,
                        name.1,
                        format!("{} has type {ty}: compare it with = or != only", name.0),
                    ));
                }
                Node::Compare(attr.clone(), cmp, self.value(&attr, &value)?)
            }
            Expr::In {
                name,
                negated,
                values,
            } => {
                let attr = self.attr(&name)?;
                if attr.search_type() == SearchType::Text {
                    return Err(error(
                        self.query,
                        name.1,
                        format!("{} has type text: IN takes keywords and numbers", name.0),
                    ));
                }
                let values = values
                    .iter()
                    .map(|v| self.value(&attr, v))
                    .collect::<Result<_, _>>()?;
                Node::In(attr, negated, values)
            }
            Expr::Between {
                name,
                negated,
                low,
                high,
            } => {
                let attr = self.attr(&name)?;
                if !matches!(
                    attr.search_type(),
                    SearchType::Int
                        | SearchType::Double
                        | SearchType::Datetime
                        | SearchType::Keyword
                ) || attr == Attr::Status
                {
                    return Err(error(
                        self.query,
                        name.1,
                        format!(
                            "{} has type {}: BETWEEN takes numbers, datetimes and keywords",
                            name.0,
                            attr.search_type()
                        ),
                    ));
                }
                let (low, high) = (self.value(&attr, &low)?, self.value(&attr, &high)?);
                Node::Between(attr, negated, low, high)
            }
            Expr::StartsWith { name, prefix } => {
                let attr = self.attr(&name)?;
                if !matches!(
                    attr.search_type(),
                    SearchType::Keyword | SearchType::KeywordList
                ) {
                    return Err(error(
                        self.query,
                        name.1,
                        format!(
                            "{} has type {}: STARTS_WITH takes keywords",
                            name.0,
                            attr.search_type()
                        ),
                    ));
                }
                match self.value(&attr, &prefix)? {
                    SearchValue::Keyword(p) => Node::StartsWith(attr, p),
                    _ => unreachable!("a keyword attribute binds keywords"),
                }
            }
            Expr::IsNull { name, negated } => Node::IsNull(self.attr(&name)?, negated),
        })
    }
}

impl Attr {
    fn search_type(&self) -> SearchType {
        match self {
            Self::StartTime | Self::CloseTime => SearchType::Datetime,
            Self::Custom(_, t) => *t,
            _ => SearchType::Keyword,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Id => "ExecutionId",
            Self::WorkflowType => "WorkflowType",
            Self::Status => "ExecutionStatus",
            Self::StartTime => "StartTime",
            Self::CloseTime => "CloseTime",
            Self::Module => "Module",
            Self::Custom(n, _) => n,
        }
    }

    /// The execution's value of this attribute, if it has one.
    fn of(&self, head: &ExecutionHead) -> Option<SearchValue> {
        let ms = |t: u64| SearchValue::Datetime(i64::try_from(t).unwrap_or(i64::MAX));
        match self {
            Self::Id => Some(SearchValue::Keyword(head.id.to_string())),
            Self::WorkflowType => Some(SearchValue::Keyword(head.workflow_type.to_string())),
            Self::Status => Some(SearchValue::Keyword(head.status.as_str().to_owned())),
            Self::StartTime => Some(ms(head.created_at_ms)),
            Self::CloseTime => head.closed_at_ms.map(ms),
            Self::Module => Some(SearchValue::Keyword(head.module.to_string())),
            Self::Custom(n, _) => head.search_attributes.get(n).cloned(),
        }
    }
}

/// The words of a text, for `=` on text attributes: lower-cased runs of
/// letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn order(a: &SearchValue, b: &SearchValue) -> Option<std::cmp::Ordering> {
    use SearchValue as V;
    match (a, b) {
        (V::Keyword(a), V::Keyword(b)) | (V::Text(a), V::Text(b)) => Some(a.cmp(b)),
        (V::Int(a), V::Int(b)) | (V::Datetime(a), V::Datetime(b)) => Some(a.cmp(b)),
        (V::Double(a), V::Double(b)) => a.partial_cmp(b),
        (V::Bool(a), V::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `have = want` for one attribute: a status without case, a text by its
/// words, a keyword list by membership.
fn equals(attr: &Attr, have: &SearchValue, want: &SearchValue) -> bool {
    use SearchValue as V;
    match (have, want) {
        (V::Keyword(h), V::Keyword(w)) if *attr == Attr::Status => h.eq_ignore_ascii_case(w),
        (V::Text(h), V::Text(w)) => {
            let have = words(h);
            words(w).iter().all(|w| have.contains(w))
        }
        (V::KeywordList(list), V::Keyword(w)) => list.contains(w),
        _ => order(have, want) == Some(std::cmp::Ordering::Equal),
    }
}

impl Node {
    fn eval(&self, head: &ExecutionHead) -> bool {
        use std::cmp::Ordering as O;
        match self {
            Self::And(terms) => terms.iter().all(|t| t.eval(head)),
            Self::Or(terms) => terms.iter().any(|t| t.eval(head)),
            Self::IsNull(attr, negated) => attr.of(head).is_none() != *negated,
            // An execution without the attribute matches no comparison.
            Self::Compare(attr, cmp, want) => attr.of(head).is_some_and(|have| match cmp {
                Cmp::Eq => equals(attr, &have, want),
                Cmp::Ne => !equals(attr, &have, want),
                Cmp::Lt => order(&have, want) == Some(O::Less),
                Cmp::Le => matches!(order(&have, want), Some(O::Less | O::Equal)),
                Cmp::Gt => order(&have, want) == Some(O::Greater),
                Cmp::Ge => matches!(order(&have, want), Some(O::Greater | O::Equal)),
            }),
            Self::In(attr, negated, values) => attr
                .of(head)
                .is_some_and(|have| values.iter().any(|w| equals(attr, &have, w)) != *negated),
            Self::Between(attr, negated, low, high) => attr.of(head).is_some_and(|have| {
                let within = matches!(order(&have, low), Some(O::Greater | O::Equal))
                    && matches!(order(&have, high), Some(O::Less | O::Equal));
                within != *negated
            }),
            Self::StartsWith(attr, prefix) => attr.of(head).is_some_and(|have| match have {
                SearchValue::Keyword(k) => k.starts_with(prefix.as_str()),
                SearchValue::KeywordList(l) => l.iter().any(|k| k.starts_with(prefix.as_str())),
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
