//! How a delivery's headers are stored, the same in every store.

/// Headers as stored: `name \0 value \n`, values as raw bytes (names are ASCII without
/// NUL; values never contain `\n` in HTTP). Lossless, unlike a JSON of strings.
pub(crate) fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

pub(crate) fn decode_headers(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let i = line.iter().position(|b| *b == 0)?;
            Some((
                String::from_utf8_lossy(&line[..i]).into_owned(),
                line[i + 1..].to_vec(),
            ))
        })
        .collect()
}
