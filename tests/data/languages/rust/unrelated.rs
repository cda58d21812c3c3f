use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token {
    Num(i64),
    Plus,
    Star,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Num(n) => write!(f, "{n}"),
            Token::Plus => f.write_str("+"),
            Token::Star => f.write_str("*"),
        }
    }
}

pub fn lex(src: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '+' => out.push(Token::Plus),
            '*' => out.push(Token::Star),
            d if d.is_ascii_digit() => {
                let mut n = d.to_digit(10).unwrap() as i64;
                while let Some(v) = chars.peek().and_then(|c| c.to_digit(10)) {
                    n = n * 10 + v as i64;
                    chars.next();
                }
                out.push(Token::Num(n));
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(out)
}
