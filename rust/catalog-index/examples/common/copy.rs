//! Binary COPY fields as `PostgreSQL` writes them (for the benchmark's change sets and the
//! crate's tests).
#![allow(clippy::cast_possible_wrap)]

pub fn field(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as i32).to_be_bytes());
    out.extend(b);
}

/// A one-dimensional text[].
pub fn array<S: AsRef<str>>(out: &mut Vec<u8>, items: &[S]) {
    let mut body = Vec::new();
    body.extend(i32::from(!items.is_empty()).to_be_bytes());
    body.extend(0i32.to_be_bytes());
    body.extend(25i32.to_be_bytes()); // text
    if !items.is_empty() {
        body.extend((items.len() as i32).to_be_bytes());
        body.extend(1i32.to_be_bytes());
        for item in items {
            field(&mut body, item.as_ref().as_bytes());
        }
    }
    field(out, &body);
}
