//! Config center records (groups, files, releases, history, templates) and service contracts.

use super::*;

pub(crate) fn config_group(g: &ConfigGroup) -> Encoded {
    let a = &g.attrs;
    Encoded {
        values: vec![
            s(&g.namespace),
            s(&g.name),
            u(g.id),
            s(&a.comment),
            s(&a.owners),
            s(&a.business),
            s(&a.department),
            json(&a.metadata),
        ],
        ctime: g.ctime,
        mtime: g.mtime,
    }
}

/// Reads the columns [`config_group`] writes (fields are evaluated in the order written).
pub(crate) fn decode_config_group(c: &mut Cursor) -> StoreResult<ConfigGroup> {
    let (namespace, name, id) = (c.text()?, c.text()?, c.u64()?);
    let attrs = GroupAttrs {
        comment: c.text()?,
        owners: c.text()?,
        business: c.text()?,
        department: c.text()?,
        metadata: c.json()?,
    };
    let (ctime, mtime) = c.times()?;
    Ok(ConfigGroup {
        id,
        namespace,
        name,
        attrs,
        ctime,
        mtime,
    })
}

pub(crate) fn decode_file_key(c: &mut Cursor) -> StoreResult<ConfigFileKey> {
    Ok(ConfigFileKey::new(c.text()?, c.text()?, c.text()?))
}

fn file_key(key: &ConfigFileKey) -> [Value; 3] {
    [s(&key.namespace), s(&key.group), s(&key.name)]
}

/// The columns config files and releases share, in schema order: the attributes, then the
/// content.
fn file_body(attrs: &FileAttrs, content: &str) -> [Value; 7] {
    [
        s(&attrs.format),
        s(&attrs.comment),
        json(&attrs.tags),
        b(attrs.encrypted),
        s(&attrs.encrypt_algo),
        s(&attrs.data_key),
        s(content),
    ]
}

/// Reads the columns [`file_body`] writes (fields are evaluated in the order written).
fn decode_file_body(c: &mut Cursor) -> StoreResult<(FileAttrs, String)> {
    let attrs = FileAttrs {
        format: c.text()?,
        comment: c.text()?,
        tags: c.json()?,
        encrypted: c.bool()?,
        encrypt_algo: c.text()?,
        data_key: c.text()?,
    };
    Ok((attrs, c.text()?))
}

pub(crate) fn config_file(f: &ConfigFile) -> Encoded {
    let mut values = file_key(&f.key).to_vec();
    values.push(u(f.id));
    values.extend(file_body(&f.attrs, &f.content));
    Encoded {
        values,
        ctime: f.ctime,
        mtime: f.mtime,
    }
}

pub(crate) fn decode_config_file(c: &mut Cursor) -> StoreResult<ConfigFile> {
    let (key, id) = (decode_file_key(c)?, c.u64()?);
    let (attrs, content) = decode_file_body(c)?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigFile {
        id,
        key,
        content,
        ctime,
        mtime,
        attrs,
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
    let mut values = file_key(&r.key).to_vec();
    values.extend([s(&r.name), u(r.id), s(&r.md5), u(r.version), b(r.active)]);
    values.extend([s(kind), json(&labels)]);
    values.extend(file_body(&r.attrs, &r.content));
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
    let (attrs, content) = decode_file_body(c)?;
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
        ctime,
        mtime,
        attrs,
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
