//! A small XML well-formedness checker, enough to hold the SVG writer to the rules every
//! parser enforces: one root element, tags that nest and match, quoted and unique
//! attributes, no raw `<` or stray `&` in text or values, only the five predefined entities
//! or character references, and no characters XML 1.0 forbids.

use std::collections::HashSet;

/// Checks `doc`; on success returns the number of elements.
pub fn check_well_formed(doc: &str) -> Result<usize, String> {
    if let Some(c) = doc.chars().find(|&c| !allowed_char(c)) {
        return Err(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ));
    }
    let mut stack: Vec<&str> = Vec::new();
    let (mut elements, mut roots) = (0usize, 0usize);
    let mut rest = doc;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            text(rest, stack.is_empty())?;
            break;
        };
        text(&rest[..lt], stack.is_empty())?;
        rest = &rest[lt..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").ok_or("unterminated comment")?;
            rest = &body[end + 3..];
        } else if let Some(body) = rest.strip_prefix("<?") {
            let end = body
                .find("?>")
                .ok_or("unterminated processing instruction")?;
            rest = &body[end + 2..];
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").ok_or("unterminated CDATA section")?;
            rest = &body[end + 3..];
        } else if let Some(body) = rest.strip_prefix("</") {
            let end = body.find('>').ok_or("unterminated end tag")?;
            let name = body[..end].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                open => return Err(format!("</{name}> closes {open:?}")),
            }
            rest = &body[end + 1..];
        } else {
            let end = tag_end(&rest[1..]).ok_or("unterminated start tag")? + 1;
            let inner = &rest[1..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(inner) => (inner, true),
                None => (inner, false),
            };
            let name_len = inner
                .find(|c: char| c.is_whitespace())
                .unwrap_or(inner.len());
            let name = &inner[..name_len];
            if !valid_name(name) {
                return Err(format!("bad element name {name:?}"));
            }
            attributes(&inner[name_len..])?;
            if stack.is_empty() {
                roots += 1;
            }
            elements += 1;
            if !empty {
                stack.push(name);
            }
            rest = &rest[end + 1..];
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

/// The index of the `>` that ends a tag, skipping `>` inside quoted values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn attributes(mut rest: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return Ok(());
        }
        if trimmed.len() == rest.len() {
            return Err(format!("attributes must be separated by spaces: {rest:?}"));
        }
        let eq = trimmed
            .find('=')
            .ok_or(format!("attribute without value: {trimmed:?}"))?;
        let name = trimmed[..eq].trim_end();
        if !valid_name(name) || !seen.insert(name) {
            return Err(format!("bad or repeated attribute {name:?}"));
        }
        let value = trimmed[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.ok_or(format!("unquoted value of {name}"))?;
        let close = value[1..]
            .find(quote)
            .ok_or(format!("unterminated value of {name}"))?;
        let content = &value[1..1 + close];
        if content.contains('<') {
            return Err(format!("raw < in the value of {name}"));
        }
        entities(content)?;
        rest = &value[close + 2..];
    }
}

fn text(content: &str, outside_root: bool) -> Result<(), String> {
    if outside_root && !content.trim().is_empty() {
        return Err(format!("text outside the root element: {content:?}"));
    }
    if content.contains("]]>") {
        return Err("]]> in text".into());
    }
    entities(content)
}

fn entities(content: &str) -> Result<(), String> {
    let mut rest = content;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or(format!("stray & in {content:?}"))?;
        let entity = &after[..semi];
        let ok = match entity {
            "amp" | "lt" | "gt" | "quot" | "apos" => true,
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32)
                .is_some_and(allowed_char),
        };
        if !ok {
            return Err(format!("unknown entity &{entity};"));
        }
        rest = &after[semi + 1..];
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || ('\u{20}'..='\u{D7FF}').contains(&c)
        || ('\u{E000}'..='\u{FFFD}').contains(&c)
        || c >= '\u{10000}'
}

#[test]
fn the_checker_catches_what_parsers_refuse() {
    assert_eq!(
        check_well_formed("<a x=\"1\"><b/>t &amp; &#x41;</a>"),
        Ok(2)
    );
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a/><b/>",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>&nbsp;</a>",
        "<a>1 < 2</a>",
        "<a>R&D</a>",
        "<a x=\"<\"/>",
        "<a>\u{0}</a>",
        "text<a/>",
    ] {
        assert!(check_well_formed(bad).is_err(), "{bad}");
    }
}
