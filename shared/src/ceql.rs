//! CEQL, Cloud Elements' `where` language: a hand-written lexer and recursive-descent
//! parser producing a small syntax tree.
//!
//! Grammar (keywords case-insensitive; `AND` binds tighter than `OR`):
//! ```text
//! clause    := or_expr END
//! or_expr   := and_expr ( OR and_expr )*
//! and_expr  := primary ( AND primary )*
//! primary   := '(' or_expr ')' | predicate
//! predicate := field ( cmp_op value
//!                    | [NOT] LIKE value
//!                    | [NOT] IN '(' value ( ',' value )* ')'
//!                    | IS [NOT] NULL )
//! cmp_op    := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
//! value     := 'quoted text' | number | TRUE | FALSE | placeholder
//! field     := identifier, dots allowed (`contact.name`)
//! ```
//!
//! Placeholders: the caller replaces every `${…}` date placeholder by an opaque
//! [`placeholder_marker`] *before* parsing, so that the placeholder's own syntax (date
//! patterns quote literals: `yyyy-MM-dd'T'HH:mm:ss'Z'`) never meets the CEQL lexer. A
//! marker is `U+E000 <decimal index> U+E001` — two Unicode private-use characters that no
//! real clause contains (the caller must refuse input that already holds them, see
//! [`contains_reserved_chars`]). The lexer recognises a marker bare (`${epoch}` →
//! [`Value::Placeholder`]) and inside quotes (`'${date:…}'` → a [`TextPart::Placeholder`]).
//!
//! Leniency, exactly where Cloud Elements' own example needs it: a quoted text left
//! unterminated at the very end of the clause runs to the end of input (the example ends
//! `attributes='created_at,updated_at`). To keep that from hiding real mistakes, the
//! unterminated text may not contain a whole-word `AND`/`OR`, which would mean the missing
//! quote swallowed further conditions.
//!
//! Errors carry the byte offset in the parsed text and say what was expected there.

use std::fmt;

/// First character of a placeholder marker (Unicode private use).
pub const MARKER_OPEN: char = '\u{E000}';
/// Last character of a placeholder marker (Unicode private use).
pub const MARKER_CLOSE: char = '\u{E001}';

/// The opaque stand-in for placeholder number `index`, to substitute before [`parse`].
pub fn placeholder_marker(index: usize) -> String {
    format!("{MARKER_OPEN}{index}{MARKER_CLOSE}")
}

/// Whether `text` holds the marker characters, so input can be refused before markers
/// are substituted (a forged marker would otherwise pass for a placeholder).
pub fn contains_reserved_chars(text: &str) -> bool {
    text.contains([MARKER_OPEN, MARKER_CLOSE])
}

/// A byte range `start..end` of the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The spanned part of `text` (the text that was parsed).
    pub fn slice<'a>(&self, text: &'a str) -> &'a str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// A parsed expression with the part of the clause it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Covers the whole expression, including its enclosing parentheses if it had any.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// Two or more operands joined by `AND`, in source order (parenthesised groups stay
    /// nested; see [`Expr::conjuncts`]).
    And(Vec<Expr>),
    /// Two or more operands joined by `OR`, in source order.
    Or(Vec<Expr>),
    /// One condition on one field.
    Predicate(Predicate),
}

/// `field <test>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    /// The field as written (case preserved).
    pub field: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Compare { op: CompareOp, value: Value },
    Like { negated: bool, pattern: Value },
    In { negated: bool, values: Vec<Value> },
    IsNull { negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    /// `!=` or `<>`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Single-quoted text (`''` already unescaped), possibly holding placeholders.
    Text(Vec<TextPart>),
    /// A bare number, as written.
    Number(String),
    Bool(bool),
    /// A bare placeholder marker (`${epoch}` written without quotes).
    Placeholder(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextPart {
    Literal(String),
    Placeholder(usize),
}

impl Value {
    /// The placeholder index when the value is exactly one placeholder, bare or quoted.
    pub fn sole_placeholder(&self) -> Option<usize> {
        match self {
            Value::Placeholder(i) => Some(*i),
            Value::Text(parts) => match parts.as_slice() {
                [TextPart::Placeholder(i)] => Some(*i),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether any placeholder occurs in the value.
    pub fn has_placeholder(&self) -> bool {
        match self {
            Value::Placeholder(_) => true,
            Value::Text(parts) => parts.iter().any(|p| matches!(p, TextPart::Placeholder(_))),
            _ => false,
        }
    }

    /// The value as plain text (quoted text, number or boolean), or `None` when it holds a
    /// placeholder.
    pub fn plain_text(&self) -> Option<String> {
        match self {
            Value::Text(parts) => parts
                .iter()
                .map(|p| match p {
                    TextPart::Literal(s) => Some(s.as_str()),
                    TextPart::Placeholder(_) => None,
                })
                .collect(),
            Value::Number(n) => Some(n.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Placeholder(_) => None,
        }
    }
}

impl Expr {
    /// The operands of this expression read as one flat `AND` list: nested (parenthesised)
    /// `AND`s are flattened; an `OR` or a predicate is a single operand.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect_conjuncts(&mut out);
        out
    }

    fn collect_conjuncts<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match &self.kind {
            ExprKind::And(operands) => operands.iter().for_each(|e| e.collect_conjuncts(out)),
            _ => out.push(self),
        }
    }

    /// The first `OR` expression found in this tree (outermost first), if any.
    pub fn find_or(&self) -> Option<&Expr> {
        match &self.kind {
            ExprKind::Or(_) => Some(self),
            ExprKind::And(operands) => operands.iter().find_map(Expr::find_or),
            ExprKind::Predicate(_) => None,
        }
    }
}

/// Why a clause does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} at offset {offset}, found {found}")]
pub struct ParseError {
    /// Byte offset in the parsed text where the problem is.
    pub offset: usize,
    /// What the parser wanted there.
    pub expected: String,
    /// What it found, described for a human (`end of clause`, `` `)` ``, …).
    pub found: String,
}

/// Parse a where clause whose placeholders have been replaced by markers.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let tokens = Lexer::new(input).run()?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        input,
    };
    let expr = parser.or_expr()?;
    let next = parser.peek();
    if !matches!(next.kind, Tok::End) {
        return Err(parser.error_at(next, "AND, OR or the end of the clause"));
    }
    Ok(expr)
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Text(Vec<TextPart>),
    Number(String),
    Placeholder(usize),
    Op(CompareOp),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    span: Span,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer { input, pos: 0 }
    }

    fn peek_char(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.input[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut tokens = Vec::new();
        loop {
            while self.peek_char().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let start = self.pos;
            let Some(c) = self.peek_char() else {
                tokens.push(Token {
                    kind: Tok::End,
                    span: Span { start, end: start },
                });
                return Ok(tokens);
            };
            let kind = match c {
                '(' => self.single(Tok::LParen),
                ')' => self.single(Tok::RParen),
                ',' => self.single(Tok::Comma),
                '=' => self.single(Tok::Op(CompareOp::Eq)),
                '<' | '>' | '!' => self.operator(start)?,
                '\'' => self.text(start)?,
                MARKER_OPEN => Tok::Placeholder(self.marker(start)?),
                c if c.is_ascii_digit() || (c == '-' && self.peek_second_is_digit()) => {
                    self.number(start)?
                }
                c if c.is_ascii_alphabetic() || c == '_' => self.ident(),
                other => {
                    return Err(ParseError {
                        offset: start,
                        expected: "a field name, value, operator or parenthesis".into(),
                        found: format!("`{other}`"),
                    });
                }
            };
            tokens.push(Token {
                kind,
                span: Span {
                    start,
                    end: self.pos,
                },
            });
        }
    }

    fn peek_second_is_digit(&self) -> bool {
        self.peek_second().is_some_and(|c| c.is_ascii_digit())
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.bump();
        tok
    }

    fn operator(&mut self, start: usize) -> Result<Tok, ParseError> {
        let first = self.bump();
        let second = self.peek_char();
        let (op, two_chars) = match (first, second) {
            (Some('<'), Some('=')) => (CompareOp::Le, true),
            (Some('<'), Some('>')) => (CompareOp::Ne, true),
            (Some('<'), _) => (CompareOp::Lt, false),
            (Some('>'), Some('=')) => (CompareOp::Ge, true),
            (Some('>'), _) => (CompareOp::Gt, false),
            (Some('!'), Some('=')) => (CompareOp::Ne, true),
            _ => {
                return Err(ParseError {
                    offset: start,
                    expected: "a comparison operator (`!` must be followed by `=`)".into(),
                    found: "`!`".into(),
                });
            }
        };
        if two_chars {
            self.bump();
        }
        Ok(Tok::Op(op))
    }

    /// A placeholder marker; returns its index.
    fn marker(&mut self, start: usize) -> Result<usize, ParseError> {
        self.bump(); // MARKER_OPEN
        let digits_start = self.pos;
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        let index = self.input[digits_start..self.pos].parse::<usize>().ok();
        match (index, self.bump()) {
            (Some(index), Some(MARKER_CLOSE)) => Ok(index),
            _ => Err(ParseError {
                offset: start,
                expected: "a well-formed placeholder marker".into(),
                found: "a malformed one".into(),
            }),
        }
    }

    /// Single-quoted text; `''` is a quote; markers inside become placeholder parts.
    fn text(&mut self, start: usize) -> Result<Tok, ParseError> {
        self.bump(); // opening quote
        let mut parts = Vec::new();
        let mut literal = String::new();
        loop {
            let here = self.pos;
            match self.peek_char() {
                None => {
                    // Lenient: unterminated text at the very end runs to end of input,
                    // unless it visibly swallowed further conditions.
                    let body = &self.input[start + 1..];
                    if let Some(word) = swallowed_keyword(body) {
                        return Err(ParseError {
                            offset: start,
                            expected: "a closing quote for the text starting here".into(),
                            found: format!("end of clause (the text would swallow `{word}`)"),
                        });
                    }
                    break;
                }
                Some('\'') => {
                    self.bump();
                    if self.peek_char() == Some('\'') {
                        self.bump();
                        literal.push('\'');
                    } else {
                        break;
                    }
                }
                Some(MARKER_OPEN) => {
                    let index = self.marker(here)?;
                    if !literal.is_empty() {
                        parts.push(TextPart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(TextPart::Placeholder(index));
                }
                Some(c) => {
                    self.bump();
                    literal.push(c);
                }
            }
        }
        if !literal.is_empty() || parts.is_empty() {
            parts.push(TextPart::Literal(literal));
        }
        Ok(Tok::Text(parts))
    }

    /// A bare word starting with a digit (or `-digit`): must be a number.
    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        self.bump();
        while self
            .peek_char()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '+'))
        {
            self.bump();
        }
        let word = &self.input[start..self.pos];
        if is_number(word) {
            Ok(Tok::Number(word.to_owned()))
        } else {
            Err(ParseError {
                offset: start,
                expected: "a number (text and dates must be in single quotes)".into(),
                found: format!("`{word}`"),
            })
        }
    }

    fn ident(&mut self) -> Tok {
        let start = self.pos;
        while self
            .peek_char()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.bump();
        }
        Tok::Ident(self.input[start..self.pos].to_owned())
    }
}

/// `-?digits(.digits)?`
fn is_number(word: &str) -> bool {
    let unsigned = word.strip_prefix('-').unwrap_or(word);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// A whole-word `AND` or `OR` (any case) in `text`, which an unterminated quote must not
/// swallow.
fn swallowed_keyword(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .find(|w| w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    input: &'a str,
}

const KEYWORDS: &[&str] = &["and", "or", "not", "like", "in", "is", "null"];

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with `End`, and `advance` never moves past it.
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if !matches!(token.kind, Tok::End) {
            self.pos += 1;
        }
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().kind, Tok::Ident(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn describe(&self, token: &Token) -> String {
        match &token.kind {
            Tok::End => "end of clause".into(),
            Tok::Placeholder(_) => "a placeholder".into(),
            Tok::Text(parts) if parts.iter().any(|p| matches!(p, TextPart::Placeholder(_))) => {
                "a quoted text holding a placeholder".into()
            }
            _ => format!("`{}`", token.span.slice(self.input)),
        }
    }

    fn error_at(&self, token: &Token, expected: &str) -> ParseError {
        ParseError {
            offset: token.span.start,
            expected: expected.into(),
            found: self.describe(token),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        self.joined("or", Self::and_expr, ExprKind::Or)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        self.joined("and", Self::primary, ExprKind::And)
    }

    /// `operand ( KEYWORD operand )*`, collapsing a single operand to itself.
    fn joined(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Expr, ParseError>,
        build: fn(Vec<Expr>) -> ExprKind,
    ) -> Result<Expr, ParseError> {
        let first = operand(self)?;
        let start = first.span.start;
        let mut operands = vec![first];
        while self.eat_keyword(keyword) {
            operands.push(operand(self)?);
        }
        if operands.len() == 1 {
            return Ok(operands.remove(0));
        }
        let end = operands.last().map_or(start, |e| e.span.end);
        Ok(Expr {
            kind: build(operands),
            span: Span { start, end },
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if matches!(self.peek().kind, Tok::LParen) {
            let open = self.advance();
            let mut inner = self.or_expr()?;
            let close = self.peek().clone();
            if !matches!(close.kind, Tok::RParen) {
                return Err(self.error_at(&close, "AND, OR or `)` to close the parenthesis"));
            }
            self.advance();
            inner.span = Span {
                start: open.span.start,
                end: close.span.end,
            };
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, ParseError> {
        let field_token = self.peek().clone();
        let field = match &field_token.kind {
            Tok::Ident(name) if !KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k)) => {
                name.clone()
            }
            _ => return Err(self.error_at(&field_token, "a condition (a field name or `(`)")),
        };
        self.advance();

        let test = if let Tok::Op(op) = self.peek().kind {
            self.advance();
            Test::Compare {
                op,
                value: self.value()?,
            }
        } else if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                let expected = if negated { "NULL" } else { "NULL or NOT NULL" };
                return Err(self.error_at(self.peek(), expected));
            }
            Test::IsNull { negated }
        } else {
            let negated = self.eat_keyword("not");
            if self.eat_keyword("like") {
                Test::Like {
                    negated,
                    pattern: self.value()?,
                }
            } else if self.eat_keyword("in") {
                Test::In {
                    negated,
                    values: self.value_list()?,
                }
            } else {
                let expected = if negated {
                    "LIKE or IN after NOT".to_owned()
                } else {
                    format!("a comparison operator, LIKE, IN or IS after `{field}`")
                };
                return Err(self.error_at(self.peek(), &expected));
            }
        };
        let end = self.tokens[self.pos.saturating_sub(1)].span.end;
        Ok(Expr {
            kind: ExprKind::Predicate(Predicate { field, test }),
            span: Span {
                start: field_token.span.start,
                end,
            },
        })
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let token = self.peek().clone();
        let value = match &token.kind {
            Tok::Text(parts) => Value::Text(parts.clone()),
            Tok::Number(n) => Value::Number(n.clone()),
            Tok::Placeholder(i) => Value::Placeholder(*i),
            Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => {
                return Err(self.error_at(
                    &token,
                    "a value (quoted text, number, true, false or a placeholder)",
                ));
            }
        };
        self.advance();
        Ok(value)
    }

    fn value_list(&mut self) -> Result<Vec<Value>, ParseError> {
        if !matches!(self.peek().kind, Tok::LParen) {
            return Err(self.error_at(self.peek(), "`(` to start the IN list"));
        }
        self.advance();
        let mut values = vec![self.value()?];
        loop {
            match self.peek().kind {
                Tok::Comma => {
                    self.advance();
                    values.push(self.value()?);
                }
                Tok::RParen => {
                    self.advance();
                    return Ok(values);
                }
                _ => return Err(self.error_at(self.peek(), "`,` or `)` in the IN list")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(expr: &Expr) -> &Predicate {
        match &expr.kind {
            ExprKind::Predicate(p) => p,
            other => panic!("expected a predicate, got {other:?}"),
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(vec![TextPart::Literal(s.into())])
    }

    fn fields(expr: &Expr) -> Vec<String> {
        match &expr.kind {
            ExprKind::Predicate(p) => vec![p.field.clone()],
            ExprKind::And(v) | ExprKind::Or(v) => v.iter().flat_map(fields).collect(),
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let e = parse("a = 1 OR b = 2 AND c = 3").unwrap();
        let ExprKind::Or(operands) = &e.kind else {
            panic!("expected OR at the top, got {e:?}");
        };
        assert_eq!(operands.len(), 2);
        assert_eq!(pred(&operands[0]).field, "a");
        assert!(matches!(&operands[1].kind, ExprKind::And(v) if v.len() == 2));
        assert_eq!(fields(&operands[1]), ["b", "c"]);

        let e = parse("a = 1 and b = 2 or c = 3").unwrap();
        let ExprKind::Or(operands) = &e.kind else {
            panic!("expected OR at the top, got {e:?}");
        };
        assert!(matches!(&operands[0].kind, ExprKind::And(_)));
        assert_eq!(pred(&operands[1]).field, "c");
    }

    #[test]
    fn parentheses_override_precedence_and_widen_the_span() {
        let input = "(a = 1 OR b = 2) AND c = 3";
        let e = parse(input).unwrap();
        let ExprKind::And(operands) = &e.kind else {
            panic!("expected AND at the top, got {e:?}");
        };
        assert!(matches!(&operands[0].kind, ExprKind::Or(_)));
        assert_eq!(operands[0].span.slice(input), "(a = 1 OR b = 2)");
        assert_eq!(
            e.find_or().map(|o| o.span.slice(input)),
            Some("(a = 1 OR b = 2)")
        );
    }

    #[test]
    fn conjuncts_flatten_nested_ands_only() {
        let e = parse("a=1 AND (b=2 AND (c=3)) AND d=4").unwrap();
        let names: Vec<_> = e
            .conjuncts()
            .into_iter()
            .map(|c| pred(c).field.clone())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert!(e.find_or().is_none());
        let e = parse("a=1 AND (b=2 OR c=3)").unwrap();
        assert_eq!(e.conjuncts().len(), 2);
        assert!(e.find_or().is_some());
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let e = parse("a = 1 aNd b LiKe 'x%' Or c iS nOt NuLl").unwrap();
        assert!(matches!(e.kind, ExprKind::Or(_)));
        assert_eq!(fields(&e), ["a", "b", "c"]);
    }

    #[test]
    fn all_operators() {
        let cases = [
            ("=", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<>", CompareOp::Ne),
            ("<", CompareOp::Lt),
            ("<=", CompareOp::Le),
            (">", CompareOp::Gt),
            (">=", CompareOp::Ge),
        ];
        for (written, op) in cases {
            for input in [format!("x{written}5"), format!("x {written} 5")] {
                let e = parse(&input).unwrap();
                assert_eq!(
                    pred(&e).test,
                    Test::Compare {
                        op,
                        value: Value::Number("5".into())
                    },
                    "{input}"
                );
            }
        }
    }

    #[test]
    fn like_in_and_is_null_forms() {
        let e = parse("name NOT LIKE 'A%'").unwrap();
        assert_eq!(
            pred(&e).test,
            Test::Like {
                negated: true,
                pattern: text("A%")
            }
        );
        let e = parse("status IN ('PAID', 'DRAFT', 3)").unwrap();
        assert_eq!(
            pred(&e).test,
            Test::In {
                negated: false,
                values: vec![text("PAID"), text("DRAFT"), Value::Number("3".into())]
            }
        );
        assert!(matches!(
            pred(&parse("x NOT IN (1)").unwrap()).test,
            Test::In { negated: true, .. }
        ));
        assert_eq!(
            pred(&parse("x IS NULL").unwrap()).test,
            Test::IsNull { negated: false }
        );
        assert_eq!(
            pred(&parse("x is not null").unwrap()).test,
            Test::IsNull { negated: true }
        );
    }

    #[test]
    fn values_text_numbers_booleans_and_dotted_fields() {
        let e = parse("contact.name = 'O''Brien ''x'''").unwrap();
        assert_eq!(pred(&e).field, "contact.name");
        assert_eq!(
            pred(&e).test,
            Test::Compare {
                op: CompareOp::Eq,
                value: text("O'Brien 'x'")
            }
        );
        let e = parse("a = -12.5 AND b = TRUE AND c = false AND d = ''").unwrap();
        let values: Vec<_> = e
            .conjuncts()
            .into_iter()
            .map(|c| match &pred(c).test {
                Test::Compare { value, .. } => value.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            [
                Value::Number("-12.5".into()),
                Value::Bool(true),
                Value::Bool(false),
                text("")
            ]
        );
    }

    #[test]
    fn placeholder_markers_bare_and_quoted() {
        let input = format!(
            "a >= {} AND b >= '{}' AND c = 'x{}y'",
            placeholder_marker(0),
            placeholder_marker(1),
            placeholder_marker(2)
        );
        let e = parse(&input).unwrap();
        let values: Vec<_> = e
            .conjuncts()
            .into_iter()
            .map(|c| match &pred(c).test {
                Test::Compare { value, .. } => value.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(values[0], Value::Placeholder(0));
        assert_eq!(values[0].sole_placeholder(), Some(0));
        assert_eq!(values[1], Value::Text(vec![TextPart::Placeholder(1)]));
        assert_eq!(values[1].sole_placeholder(), Some(1));
        assert_eq!(
            values[2],
            Value::Text(vec![
                TextPart::Literal("x".into()),
                TextPart::Placeholder(2),
                TextPart::Literal("y".into())
            ])
        );
        assert_eq!(values[2].sole_placeholder(), None);
        assert!(values[2].has_placeholder());
        assert_eq!(values[2].plain_text(), None);
        assert_eq!(text("q").plain_text().as_deref(), Some("q"));
        assert!(contains_reserved_chars(&input));
        assert!(!contains_reserved_chars("a = 'b'"));
    }

    #[test]
    fn unterminated_text_at_the_end_runs_to_end_of_input() {
        let input = format!(
            "lastModifiedDate>='{}' and attributes='created_at,updated_at",
            placeholder_marker(0)
        );
        let e = parse(&input).unwrap();
        let conjuncts = e.conjuncts();
        assert_eq!(conjuncts.len(), 2);
        assert_eq!(
            pred(conjuncts[1]).test,
            Test::Compare {
                op: CompareOp::Eq,
                value: text("created_at,updated_at")
            }
        );
    }

    #[test]
    fn unterminated_text_may_not_swallow_further_conditions() {
        let err = parse("a = 'x AND b = 2").unwrap_err();
        assert_eq!(err.offset, 4);
        assert!(err.expected.contains("closing quote"), "{err}");
        assert!(err.found.contains("AND"), "{err}");
    }

    #[test]
    fn error_positions_and_expectations() {
        // (input, offset, expected fragment, found fragment)
        let cases = [
            ("", 0, "a condition", "end of clause"),
            ("   ", 3, "a condition", "end of clause"),
            ("a = ", 4, "a value", "end of clause"),
            ("a = 1 b = 2", 6, "AND, OR or the end", "`b`"),
            ("a = 1 AND", 9, "a condition", "end of clause"),
            ("(a = 1", 6, "`)` to close the parenthesis", "end of clause"),
            ("a = 1)", 5, "AND, OR or the end", "`)`"),
            (
                "a 1",
                2,
                "a comparison operator, LIKE, IN or IS after `a`",
                "`1`",
            ),
            ("a IS 5", 5, "NULL or NOT NULL", "`5`"),
            ("a NOT = 1", 6, "LIKE or IN after NOT", "`=`"),
            ("a IN 1", 5, "`(` to start the IN list", "`1`"),
            ("a IN (1 2)", 8, "`,` or `)`", "`2`"),
            ("a ! 1", 2, "comparison operator", "`!`"),
            ("a = 1 # b", 6, "a field name, value", "`#`"),
            ("a = b", 4, "a value", "`b`"),
            ("and = 1", 0, "a condition", "`and`"),
            (
                "d >= 2018-01-01",
                5,
                "a number (text and dates must be in single quotes)",
                "`2018-01-01`",
            ),
        ];
        for (input, offset, expected, found) in cases {
            let err = parse(input).expect_err(input);
            assert_eq!(err.offset, offset, "{input}: {err}");
            assert!(err.expected.contains(expected), "{input}: {err}");
            assert!(err.found.contains(found), "{input}: {err}");
        }
    }

    #[test]
    fn error_display_mentions_offset_and_expectation() {
        let err = parse("a =").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a value (quoted text, number, true, false or a placeholder) at offset 3, found end of clause"
        );
    }

    #[test]
    fn placeholder_in_error_is_described_not_dumped() {
        let input = format!("a {}", placeholder_marker(0));
        let err = parse(&input).unwrap_err();
        assert_eq!(err.found, "a placeholder");
        assert!(parse(&format!("a = {MARKER_OPEN}x")).is_err());
        assert!(parse(&format!("a = {MARKER_OPEN}1")).is_err());
    }

    #[test]
    fn predicate_spans_cover_the_condition() {
        let input = "  name LIKE 'A%'  AND x IS NOT NULL ";
        let e = parse(input).unwrap();
        let spans: Vec<_> = e.conjuncts().iter().map(|c| c.span.slice(input)).collect();
        assert_eq!(spans, ["name LIKE 'A%'", "x IS NOT NULL"]);
        assert_eq!(e.span.slice(input), "name LIKE 'A%'  AND x IS NOT NULL");
    }

    #[test]
    fn non_ascii_text_is_kept() {
        let e = parse("search = 'Café ünd 東京'").unwrap();
        assert_eq!(
            pred(&e).test,
            Test::Compare {
                op: CompareOp::Eq,
                value: text("Café ünd 東京")
            }
        );
    }
}
