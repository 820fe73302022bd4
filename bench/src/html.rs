//! The HTML the bench reads: the forms of sign-in pages (the hosted pages'
//! and the peers'), filled as a browser would, and the text of error pages
//! for its messages.

pub(crate) fn html_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    let mut i = 0;
    while i < html.len() {
        if html.as_bytes()[i] == b'<' {
            let skip_to = ["<style", "<script", "<head"]
                .iter()
                .find(|t| lower[i..].starts_with(*t))
                .and_then(|t| lower[i..].find(&format!("</{}", &t[1..])).map(|j| i + j));
            let from = skip_to.unwrap_or(i);
            i = lower[from..]
                .find('>')
                .map(|j| from + j + 1)
                .unwrap_or(html.len());
            out.push(' ');
        } else {
            let next = html[i..].find('<').map(|j| i + j).unwrap_or(html.len());
            out.push_str(&html[i..next]);
            i = next;
        }
    }
    html_unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

// ---------------------------------------------------------------- HTML forms

#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub name: String,
    pub value: String,
    pub kind: String,
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Form {
    pub method: String,
    pub action: Option<String>,
    pub inputs: Vec<Input>,
}

pub(crate) fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| c == ';' || c == '&' || c.is_whitespace())
            .map(|j| j + 1);
        let decoded = end.filter(|&e| rest.as_bytes()[e] == b';').and_then(|e| {
            let ent = &rest[1..e];
            let ch = match ent {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "nbsp" => Some('\u{a0}'),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            };
            ch.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Index of the '>' closing the tag that starts at `start`, skipping quoted
/// attribute values.
fn tag_end(html: &str, start: usize) -> usize {
    let b = html.as_bytes();
    let mut quote = 0u8;
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        if quote != 0 {
            if c == quote {
                quote = 0;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
        } else if c == b'>' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Attributes of a tag's inside (after the tag name), names lower-cased,
/// values unescaped.
fn parse_attrs(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len()
            && !b[i].is_ascii_whitespace()
            && b[i] != b'='
            && b[i] != b'>'
            && b[i] != b'/'
        {
            i += 1;
        }
        if i == start {
            i += 1;
            continue;
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let mut j = vs;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                value = html_unescape(&s[vs..j]);
                i = (j + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = html_unescape(&s[vs..i]);
            }
        }
        out.push((name, value));
    }
    out
}

fn is_tag_at(lower: &str, at: usize, name: &str) -> bool {
    lower[at..].starts_with(name)
        && lower
            .as_bytes()
            .get(at + name.len())
            .map(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
            .unwrap_or(false)
}

/// The forms of a page with their `<input>` fields.
pub(crate) fn parse_forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase(); // same byte offsets
    let mut forms = Vec::new();
    let mut pos = 0;
    while let Some(rel) = lower[pos..].find("<form") {
        let start = pos + rel;
        if !is_tag_at(&lower, start, "<form") {
            pos = start + 5;
            continue;
        }
        let end = tag_end(html, start);
        let attrs = parse_attrs(&html[(start + 5).min(end)..end]);
        let close = lower[end.min(lower.len())..]
            .find("</form")
            .map(|j| end + j)
            .unwrap_or(html.len());
        let mut form = Form {
            method: attrs
                .iter()
                .find(|(k, _)| k == "method")
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_else(|| "get".into()),
            action: attrs
                .iter()
                .find(|(k, _)| k == "action")
                .map(|(_, v)| v.clone()),
            inputs: Vec::new(),
        };
        let mut p = end;
        while let Some(r) = lower[p..close.max(p)].find("<input") {
            let s = p + r;
            if !is_tag_at(&lower, s, "<input") {
                p = s + 6;
                continue;
            }
            let e = tag_end(html, s);
            let a = parse_attrs(&html[s + 6..e]);
            let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let Some(name) = get("name") {
                form.inputs.push(Input {
                    name,
                    value: get("value").unwrap_or_default(),
                    kind: get("type")
                        .unwrap_or_else(|| "text".into())
                        .to_ascii_lowercase(),
                    checked: a.iter().any(|(n, _)| n == "checked"),
                });
            }
            p = e.min(close);
            if p >= close {
                break;
            }
        }
        forms.push(form);
        pos = close.max(start + 5);
    }
    forms
}

/// Fills a form as a person would: hidden inputs kept, e-mail and password
/// typed in, other inputs with their values; unchecked boxes and buttons left out.
pub(crate) fn fill_form(form: &Form, email: &str, password: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for input in &form.inputs {
        let value = match input.kind.as_str() {
            "password" => password.to_string(),
            "email" => email.to_string(),
            _ if input.name == "email" || input.name == "username" || input.name == "login" => {
                if input.kind == "hidden" && !input.value.is_empty() {
                    input.value.clone()
                } else {
                    email.to_string()
                }
            }
            "submit" | "button" | "image" | "reset" | "file" => continue,
            "checkbox" | "radio" if !input.checked => continue,
            _ => input.value.clone(),
        };
        fields.push((input.name.clone(), value));
    }
    fields
}

// ---------------------------------------------------------------- code flow

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_unescape() {
        let html = r#"<html><body><a href="/x/register">Register</a>
        <FORM class="f" method="POST" action="/t/as/sign-in?a=1&amp;b=2">
          <input type="hidden" name="csrf" value="a&quot;b&#x27;c&lt;&gt;&#39;&amp;">
          <input type=hidden name='flow' value='xyz'>
          <input type="email" name="email" autocomplete="username">
          <input type="password" name="password">
          <input type="checkbox" name="remember">
          <button type="submit">Sign in</button>
        </form></body></html>"#;
        let forms = parse_forms(html);
        assert_eq!(forms.len(), 1);
        let f = &forms[0];
        assert_eq!(f.method, "post");
        assert_eq!(f.action.as_deref(), Some("/t/as/sign-in?a=1&b=2"));
        let fields = fill_form(f, "u@example.com", "pw");
        assert_eq!(
            fields,
            vec![
                ("csrf".to_string(), "a\"b'c<>'&".to_string()),
                ("flow".to_string(), "xyz".to_string()),
                ("email".to_string(), "u@example.com".to_string()),
                ("password".to_string(), "pw".to_string()),
            ]
        );
    }
}
