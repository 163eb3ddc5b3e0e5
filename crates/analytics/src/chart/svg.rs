//! A minimal SVG writer: escaping, and numbers short enough to keep a chart small.

use std::fmt::{self, Write};

/// Escapes text for XML content and attribute values.
///
/// Besides the five markup characters, control characters are replaced by a space: XML 1.0
/// forbids them even escaped, and a title with a stray `\0` or newline must still give a
/// document every parser accepts. U+FFFE and U+FFFF, also forbidden, are dropped.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document being written.
#[derive(Debug, Default)]
pub(crate) struct Svg {
    buf: String,
}

impl Svg {
    pub(crate) fn new() -> Self {
        Svg {
            buf: String::with_capacity(64 * 1024),
        }
    }

    pub(crate) fn raw(&mut self, markup: &str) {
        self.buf.push_str(markup);
    }

    pub(crate) fn fmt(&mut self, args: fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        let _ = self.buf.write_fmt(args);
    }

    /// `x,y x,y …` with one decimal: a tenth of a pixel is below what anyone can see.
    pub(crate) fn points(&mut self, points: &[(f64, f64)]) {
        for (i, (x, y)) in points.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            self.fmt(format_args!("{sep}{},{}", Coord(*x), Coord(*y)));
        }
    }

    /// A `<text>` element; `content` is escaped here.
    pub(crate) fn text(&mut self, x: f64, y: f64, attrs: &str, content: &str) {
        self.fmt(format_args!(
            "<text x=\"{}\" y=\"{}\"{}{attrs}>{}</text>\n",
            Coord(x),
            Coord(y),
            if attrs.is_empty() { "" } else { " " },
            escape_text(content)
        ));
    }

    /// The markup written so far, to embed in another document.
    pub(crate) fn into_markup(self) -> String {
        self.buf
    }

    /// The document, with the root element closed.
    pub(crate) fn finish(mut self) -> String {
        self.buf.push_str("</svg>\n");
        self.buf
    }
}

/// A coordinate printed with at most one decimal and no trailing `.0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Coord(pub f64);

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 10.0).round();
        // Pixel coordinates of a 900-wide chart: far inside i64 once clamped.
        let tenths = tenths.clamp(-1e9, 1e9) as i64;
        let (sign, abs) = if tenths < 0 {
            ("-", -tenths)
        } else {
            ("", tenths)
        };
        match abs % 10 {
            0 => write!(f, "{sign}{}", abs / 10),
            d => write!(f, "{sign}{}.{d}", abs / 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape_text("<P&L> \"A\" 'b'\u{0}\n\u{FFFF}é"),
            "&lt;P&amp;L&gt; &quot;A&quot; &apos;b&apos;  é"
        );
    }

    #[test]
    fn coordinates_are_short() {
        let shown: Vec<String> = [12.0, 12.34, -0.04, -3.25, 899.96]
            .iter()
            .map(|&x| Coord(x).to_string())
            .collect();
        assert_eq!(shown, ["12", "12.3", "0", "-3.3", "900"]);
    }
}
