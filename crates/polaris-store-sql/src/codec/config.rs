//! Config center records (groups, files, releases, history, templates) and service contracts.

use super::*;

plain_record!(
    config_group,
    decode_config_group,
    ConfigGroup {
        namespace: text,
        name: text,
        id: u64,
        comment: text,
        owners: text,
        business: text,
        department: text,
        metadata: json,
    }
);

pub(crate) fn decode_file_key(c: &mut Cursor) -> StoreResult<ConfigFileKey> {
    Ok(ConfigFileKey::new(c.text()?, c.text()?, c.text()?))
}

fn file_key(key: &ConfigFileKey) -> [Value; 3] {
    [s(&key.namespace), s(&key.group), s(&key.name)]
}

/// The columns config files and releases share, in schema order.
struct FileBody<'a> {
    format: &'a str,
    comment: &'a str,
    tags: &'a [(String, String)],
    encrypted: bool,
    encrypt_algo: &'a str,
    data_key: &'a str,
    content: &'a str,
}

impl FileBody<'_> {
    fn values(&self) -> [Value; 7] {
        [
            s(self.format),
            s(self.comment),
            json(&self.tags),
            b(self.encrypted),
            s(self.encrypt_algo),
            s(self.data_key),
            s(self.content),
        ]
    }
}

/// Decoded [`FileBody`] columns: format, comment, tags, encrypted, algorithm, data key, content.
type FileColumns = (
    String,
    String,
    Vec<(String, String)>,
    bool,
    String,
    String,
    String,
);

fn decode_file_body(c: &mut Cursor) -> StoreResult<FileColumns> {
    Ok((
        c.text()?,
        c.text()?,
        c.json()?,
        c.bool()?,
        c.text()?,
        c.text()?,
        c.text()?,
    ))
}

pub(crate) fn config_file(f: &ConfigFile) -> Encoded {
    let body = FileBody {
        format: &f.format,
        comment: &f.comment,
        tags: &f.tags,
        encrypted: f.encrypted,
        encrypt_algo: &f.encrypt_algo,
        data_key: &f.data_key,
        content: &f.content,
    };
    let mut values = file_key(&f.key).to_vec();
    values.push(u(f.id));
    values.extend(body.values());
    Encoded {
        values,
        ctime: f.ctime,
        mtime: f.mtime,
    }
}

pub(crate) fn decode_config_file(c: &mut Cursor) -> StoreResult<ConfigFile> {
    let (key, id) = (decode_file_key(c)?, c.u64()?);
    let (format, comment, tags, encrypted, encrypt_algo, data_key, content) = decode_file_body(c)?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigFile {
        id,
        key,
        content,
        format,
        comment,
        tags,
        encrypted,
        encrypt_algo,
        data_key,
        ctime,
        mtime,
    })
}

pub(crate) fn config_release(r: &ConfigRelease) -> Encoded {
    let kind = match r.kind {
        ReleaseKind::Normal => "",
        ReleaseKind::Gray => "gray",
    };
    let labels: Vec<(&str, &str, &str)> = r
        .gray_labels
        .iter()
        .map(|l| (l.key.as_str(), l.match_type.as_str(), l.value.as_str()))
        .collect();
    let body = FileBody {
        format: &r.format,
        comment: &r.comment,
        tags: &r.tags,
        encrypted: r.encrypted,
        encrypt_algo: &r.encrypt_algo,
        data_key: &r.data_key,
        content: &r.content,
    };
    let mut values = file_key(&r.key).to_vec();
    values.extend([s(&r.name), u(r.id), s(&r.md5), u(r.version), b(r.active)]);
    values.extend([s(kind), json(&labels)]);
    values.extend(body.values());
    Encoded {
        values,
        ctime: r.ctime,
        mtime: r.mtime,
    }
}

pub(crate) fn decode_release_key(c: &mut Cursor) -> StoreResult<(ConfigFileKey, String)> {
    Ok((decode_file_key(c)?, c.text()?))
}

pub(crate) fn decode_config_release(c: &mut Cursor) -> StoreResult<ConfigRelease> {
    let (key, name) = decode_release_key(c)?;
    let (id, md5, version, active) = (c.u64()?, c.text()?, c.u64()?, c.bool()?);
    let kind = match c.text()?.as_str() {
        "" => ReleaseKind::Normal,
        "gray" => ReleaseKind::Gray,
        other => return Err(corrupt(format!("release type {other:?}"))),
    };
    let labels: Vec<(String, String, String)> = c.json()?;
    let gray_labels = labels
        .into_iter()
        .map(|(key, match_type, value)| GrayLabel {
            key,
            match_type,
            value,
        })
        .collect();
    let (format, comment, tags, encrypted, encrypt_algo, data_key, content) = decode_file_body(c)?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigRelease {
        id,
        key,
        name,
        content,
        md5,
        version,
        active,
        kind,
        gray_labels,
        format,
        comment,
        tags,
        encrypted,
        encrypt_algo,
        data_key,
        ctime,
        mtime,
    })
}

pub(crate) fn release_history(h: &ReleaseHistory) -> Encoded {
    let mut values = vec![u(h.id)];
    values.extend(file_key(&h.key));
    values.extend([s(&h.release_name), s(&h.kind), s(&h.status), s(&h.content)]);
    values.extend([
        s(&h.md5),
        u(h.version),
        s(&h.format),
        s(&h.comment),
        json(&h.tags),
    ]);
    Encoded {
        values,
        ctime: h.ctime,
        mtime: h.ctime,
    }
}

pub(crate) fn decode_release_history(c: &mut Cursor) -> StoreResult<ReleaseHistory> {
    let (id, key) = (c.u64()?, decode_file_key(c)?);
    let (release_name, kind, status, content) = (c.text()?, c.text()?, c.text()?, c.text()?);
    let (md5, version, format, comment, tags) =
        (c.text()?, c.u64()?, c.text()?, c.text()?, c.json()?);
    let (ctime, _) = c.times()?;
    Ok(ReleaseHistory {
        id,
        key,
        release_name,
        kind,
        status,
        content,
        md5,
        version,
        format,
        comment,
        tags,
        ctime,
    })
}

plain_record!(
    config_template,
    decode_config_template,
    ConfigTemplate {
        name: text,
        id: u64,
        content: text,
        format: text,
        comment: text,
    }
);

pub(crate) fn service_contract(sc: &ServiceContract) -> Encoded {
    let (namespace, service, name, version, protocol) = sc.key();
    let interfaces: Vec<_> = sc
        .interfaces
        .iter()
        .map(|i| (&i.name, &i.method, &i.path, &i.content, &i.kind))
        .collect();
    Encoded {
        values: vec![
            s(&namespace),
            s(&service),
            s(&name),
            s(&version),
            s(&protocol),
            s(&sc.name),
            s(&sc.kind),
            s(&sc.content),
            json(&interfaces),
            s(&sc.revision),
        ],
        ctime: sc.mtime,
        mtime: sc.mtime,
    }
}

pub(crate) fn decode_service_contract(c: &mut Cursor) -> StoreResult<ServiceContract> {
    let (namespace, service, _key_name) = (c.text()?, c.text()?, c.text()?);
    let (version, protocol, name, kind, content) =
        (c.text()?, c.text()?, c.text()?, c.text()?, c.text()?);
    let interfaces: Vec<(String, String, String, String, String)> = c.json()?;
    let interfaces = interfaces
        .into_iter()
        .map(|(name, method, path, content, kind)| ContractInterface {
            name,
            method,
            path,
            content,
            kind,
        })
        .collect();
    let revision = c.text()?;
    let (_, mtime) = c.times()?;
    Ok(ServiceContract {
        namespace,
        service,
        name,
        kind,
        version,
        protocol,
        content,
        interfaces,
        revision,
        mtime,
    })
}
