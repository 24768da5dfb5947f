//! Reading untrusted uploads: a minimal `multipart/form-data` parser and a bounded zip reader.
//!
//! The zip reader never trusts the sizes an archive declares: it counts entries from the
//! central directory before reading any, and reads every entry through a budget of the bytes
//! still allowed, so a small archive that inflates to gigabytes (a zip bomb) stops at the cap.
//! Entry names must be relative paths of `[0-9A-Za-z-._:/]` without empty, `.` or `..`
//! segments: traversal (`../x`, `/etc/x`, `C:\x`) is refused before anything is stored.

use std::io::{Cursor, Read};

use polaris_types::{Code, PolarisError, Result};

/// Most entries an imported archive may hold.
pub(crate) const MAX_ENTRIES: usize = 1000;
/// Most bytes an imported archive may inflate to, all entries together.
pub(crate) const MAX_UNCOMPRESSED: u64 = 20 * 1024 * 1024;

/// One file of an archive.
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub data: Vec<u8>,
}

fn too_big(detail: String) -> PolarisError {
    PolarisError::new(Code::BadRequest, detail)
}

/// True for a safe relative entry name.
pub(crate) fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b))
}

/// Reads every file entry of `bytes` (directories are skipped) within the limits.
pub(crate) fn read_zip(bytes: &[u8]) -> Result<Vec<Entry>> {
    let invalid = |e: zip::result::ZipError| {
        PolarisError::new(Code::ParseException, format!("invalid zip archive: {e}"))
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(invalid)?;
    if archive.len() > MAX_ENTRIES {
        return Err(too_big(format!(
            "the archive holds more than {MAX_ENTRIES} entries"
        )));
    }
    let mut budget = MAX_UNCOMPRESSED;
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let file = archive.by_index(index).map_err(invalid)?;
        let name = file.name().map_err(invalid)?.to_string();
        if file.is_dir() {
            continue;
        }
        if !safe_name(&name) {
            return Err(PolarisError::new(
                Code::InvalidConfigFileName,
                format!("unsafe entry name {name:?}"),
            ));
        }
        let mut data = Vec::new();
        // One byte more than the budget tells an entry at the cap from one past it.
        file.take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| PolarisError::new(Code::ParseException, format!("entry {name}: {e}")))?;
        let used = data.len() as u64;
        if used > budget {
            return Err(too_big(format!(
                "the archive inflates to more than {MAX_UNCOMPRESSED} bytes"
            )));
        }
        budget -= used;
        entries.push(Entry { name, data });
    }
    Ok(entries)
}

/// One part of a multipart body.
#[derive(Debug)]
pub(crate) struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub data: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 70)
            .then(|| v.to_string())
    })
}

/// Splits a multipart body into parts (`None`: malformed).
pub(crate) fn parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    let separator = format!("\r\n--{boundary}");
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, separator.as_bytes())?;
        let (mut name, mut filename) = (None, None);
        for line in head.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for param in value.split(';').skip(1) {
                if let Some((k, v)) = param.trim().split_once('=') {
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            data: &content[..end],
        });
        rest = &content[end + separator.len()..];
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        for (name, data) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_plain_archives() {
        let bytes = archive(&[("g/a.yaml", b"a: 1"), ("META", b"{}")]);
        let entries = read_zip(&bytes).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "g/a.yaml");
        assert_eq!(entries[0].data, b"a: 1");
    }

    #[test]
    fn refuses_traversal() {
        for bad in ["../x", "g/../../x", "/etc/passwd", "C:\\x", "a//b", "./a"] {
            let bytes = archive(&[(bad, b"x")]);
            let err = read_zip(&bytes).unwrap_err();
            assert_eq!(err.code, Code::InvalidConfigFileName, "{bad}");
        }
    }

    #[test]
    fn refuses_bombs_and_too_many_entries() {
        let zeros = vec![0u8; (MAX_UNCOMPRESSED + 1) as usize];
        let bytes = archive(&[("g/bomb", &zeros)]);
        assert!(bytes.len() < 100_000, "compresses well: {}", bytes.len());
        assert_eq!(read_zip(&bytes).unwrap_err().code, Code::BadRequest);
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("g/{i}")).collect();
        let many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        assert_eq!(
            read_zip(&archive(&many)).unwrap_err().code,
            Code::BadRequest
        );
        assert_eq!(
            read_zip(b"not a zip").unwrap_err().code,
            Code::ParseException
        );
    }

    #[test]
    fn multipart_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"config\"; filename=\"c.zip\"\r\nContent-Type: application/zip\r\n\r\nPK\x03\x04data\r\n--XyZ--\r\n";
        let boundary = boundary("multipart/form-data; boundary=XyZ").unwrap();
        let parts = parts(body, &boundary).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, "config");
        assert_eq!(parts[0].filename.as_deref(), Some("c.zip"));
        assert_eq!(parts[0].data, b"PK\x03\x04data");
        assert!(super::parts(b"--XyZ\r\nbroken", "XyZ").is_none());
        assert!(super::boundary("application/json").is_none());
    }
}
