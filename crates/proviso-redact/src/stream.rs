use crate::Session;
use crate::session::MAX_PLACEHOLDER;

/// Restores placeholders in a text that arrives in pieces: a piece ending
/// in what may be the start of a placeholder (`<EMA`) is held back until
/// the next piece shows whether it is one.
pub struct StreamRestorer<'a> {
    session: &'a Session,
    held: String,
}

fn could_start_placeholder(s: &str) -> bool {
    s.len() < MAX_PLACEHOLDER
        && s.starts_with('<')
        && s[1..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl<'a> StreamRestorer<'a> {
    /// A restorer over `session`'s placeholders.
    pub fn new(session: &'a Session) -> Self {
        Self {
            session,
            held: String::new(),
        }
    }

    /// Takes the next piece; returns what can be emitted now.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let cut = match self.held.rfind('<') {
            Some(i) if could_start_placeholder(&self.held[i..]) => i,
            _ => self.held.len(),
        };
        let ready: String = self.held.drain(..cut).collect();
        self.session.restore(&ready)
    }

    /// Emits whatever is held at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        self.session.restore(&rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntityKind;

    #[test]
    fn split_at_every_boundary() {
        let mut s = Session::default();
        s.placeholder(EntityKind::Email, "ann@example.com");
        s.placeholder(EntityKind::Phone, "+86 138 0013 8000");
        let upstream = "Dear <EMAIL_1>, we will call <PHONE_1> <soon> <PHONE_12> x<";
        let want = "Dear ann@example.com, we will call +86 138 0013 8000 <soon> <PHONE_12> x<";
        for i in 0..=upstream.len() {
            for j in i..=upstream.len() {
                let mut r = StreamRestorer::new(&s);
                let mut out = r.push(&upstream[..i]);
                out += &r.push(&upstream[i..j]);
                out += &r.push(&upstream[j..]);
                out += &r.finish();
                assert_eq!(out, want, "cuts at {i} and {j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut s = Session::default();
        s.placeholder(EntityKind::Secret, "sk-1");
        let mut r = StreamRestorer::new(&s);
        let out: String = "key <SECRET_1>."
            .chars()
            .map(|c| r.push(&c.to_string()))
            .collect::<String>()
            + &r.finish();
        assert_eq!(out, "key sk-1.");
    }
}
