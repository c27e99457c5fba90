//! File storage for uploads: a public local folder served under `/uploads/`, and a private
//! one that is never served as it is.
//!
//! Names are random (UUID v4 plus an extension chosen from the sniffed content): nothing a
//! client sends ever becomes part of a path. A private file is fetched under `/private/` with
//! a link that names its key and an expiry, signed with a key derived from the server
//! secret ([`Storage::signed_url`]); only code that has authorised the viewer hands one out.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::FieldErrors;

/// URL path under which stored files are served.
pub const PUBLIC_PREFIX: &str = "/uploads";

/// URL path under which private files are fetched with a signed link.
pub const PRIVATE_PREFIX: &str = "/private";

type HmacSha256 = Hmac<Sha256>;

/// The content types files are stored as, by the extension storage chose for them.
const CONTENT_TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("txt", "text/plain; charset=utf-8"),
];

/// Longest display name kept for an uploaded file, in characters.
const FILE_NAME_MAX: usize = 120;

/// A file as uploaded.
pub struct Upload {
    pub file_name: String,
    pub bytes: bytes::Bytes,
}

/// A stored upload as the rows that list it keep it (messages, tasks, order deliveries).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub url: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// The uploader's file name as shown to others: the last path segment without control
/// characters, at most [`FILE_NAME_MAX`] characters, "file" when nothing is left.
pub fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(FILE_NAME_MAX).collect();
    if clean.trim().is_empty() {
        "file".to_owned()
    } else {
        clean
    }
}

/// Checks uploads against the upload limits (each at most `max_bytes`, not empty, a document
/// type judged from its content), naming `field` for each problem; returns each file's
/// (content type, extension) for [`Storage::store_uploads`].
pub fn check_uploads(
    files: &[Upload],
    max_bytes: usize,
    field: &str,
    errors: &mut FieldErrors,
) -> Vec<(&'static str, &'static str)> {
    let mut kinds = Vec::with_capacity(files.len());
    for file in files {
        match sniff_document(&file.bytes) {
            _ if file.bytes.len() > max_bytes => {
                errors.add(field, format!("each file must be at most {max_bytes} bytes"))
            }
            _ if file.bytes.is_empty() => errors.add(field, "must not contain empty files"),
            None => errors.add(field, "may be images, PDF, ZIP or plain text"),
            Some(kind) => kinds.push(kind),
        }
    }
    kinds
}

/// A stored file.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Path relative to the storage root, e.g. `avatars/6f1c….png`.
    pub key: String,
    /// Absolute URL clients fetch it from.
    pub url: String,
}

/// A private file as read back.
#[derive(Debug)]
pub struct PrivateFile {
    pub bytes: bytes::Bytes,
    pub content_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    public_base: String,
    private_root: PathBuf,
    private_base: String,
    link_key: [u8; 32],
}

/// Whether `key` is one storage could have made: relative, no `.`/`..` parts, plain characters.
fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
}

/// Writes `bytes` under `root/folder` with a fresh random name; returns the key.
async fn write_new(root: &Path, folder: &str, ext: &str, bytes: bytes::Bytes) -> anyhow::Result<String> {
    let key = format!("{folder}/{}.{ext}", Uuid::new_v4().simple());
    let path = root.join(&key);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .context("creating upload folder")?;
    }
    // Write to a temporary name and rename, so a reader never sees half a file.
    let tmp = path.with_extension("part");
    tokio::fs::write(&tmp, &bytes).await.context("writing upload")?;
    tokio::fs::rename(&tmp, &path).await.context("renaming upload")?;
    Ok(key)
}

async fn remove_key(root: &Path, key: &str) {
    if !safe_key(key) {
        return;
    }
    if let Err(e) = tokio::fs::remove_file(root.join(key)).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %e, key, "could not remove stored file");
        }
    }
}

impl Storage {
    /// Storage rooted at `root` (URLs under `public_url` + `/uploads/`) and `private_root`
    /// (signed links under `public_url` + `/private/`, keyed from `server_secret`).
    pub fn local(
        root: impl Into<PathBuf>,
        private_root: impl Into<PathBuf>,
        public_url: &str,
        server_secret: &[u8],
    ) -> Self {
        let base = public_url.trim_end_matches('/');
        let mut hasher = Sha256::new();
        hasher.update(b"gigmarket private file links v1\0");
        hasher.update(server_secret);
        Self {
            root: root.into(),
            public_base: format!("{base}{PUBLIC_PREFIX}/"),
            private_root: private_root.into(),
            private_base: format!("{base}{PRIVATE_PREFIX}/"),
            link_key: hasher.finalize().into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the public and private folders if needed.
    pub async fn ensure_root(&self) -> anyhow::Result<()> {
        for root in [&self.root, &self.private_root] {
            tokio::fs::create_dir_all(root)
                .await
                .with_context(|| format!("creating upload folder {}", root.display()))?;
        }
        Ok(())
    }

    /// Writes `bytes` under `folder` with a fresh random name.
    pub async fn put(&self, folder: &'static str, ext: &'static str, bytes: bytes::Bytes) -> anyhow::Result<Stored> {
        let key = write_new(&self.root, folder, ext, bytes).await?;
        Ok(Stored {
            url: format!("{}{key}", self.public_base),
            key,
        })
    }

    /// Stores uploads that passed [`check_uploads`] (with the kinds it returned) under
    /// `folder`, and describes them as attachments (a random stored name, the uploader's name
    /// for display).
    pub async fn store_uploads(
        &self,
        folder: &'static str,
        files: Vec<Upload>,
        kinds: Vec<(&'static str, &'static str)>,
    ) -> anyhow::Result<Vec<Attachment>> {
        let mut attachments = Vec::with_capacity(files.len());
        for (file, (content_type, ext)) in files.into_iter().zip(kinds) {
            let size_bytes = file.bytes.len() as i64;
            let stored = self.put(folder, ext, file.bytes).await?;
            attachments.push(Attachment {
                url: stored.url,
                file_name: display_name(&file.file_name),
                content_type: content_type.to_owned(),
                size_bytes,
            });
        }
        Ok(attachments)
    }

    /// Removes a file this storage handed out, given its URL. Best effort: a failure is logged.
    pub async fn remove_by_url(&self, url: &str) {
        if let Some(key) = url.strip_prefix(&self.public_base) {
            remove_key(&self.root, key).await;
        }
    }

    /// Writes `bytes` to the private store under `folder`; returns the key to keep.
    pub async fn put_private(
        &self,
        folder: &'static str,
        ext: &'static str,
        bytes: bytes::Bytes,
    ) -> anyhow::Result<String> {
        write_new(&self.private_root, folder, ext, bytes).await
    }

    /// Removes a private file. Best effort: a failure is logged.
    pub async fn remove_private(&self, key: &str) {
        remove_key(&self.private_root, key).await;
    }

    fn link_mac(&self, key: &str, expires: i64) -> HmacSha256 {
        // A 32-byte key is always accepted by HMAC.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.link_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key size"));
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A link to the private file `key` that works until `now + ttl` (and the time it stops).
    /// Hand it out only to a viewer already authorised to see the file.
    pub fn signed_url(&self, key: &str, now: DateTime<Utc>, ttl: Duration) -> (String, DateTime<Utc>) {
        let expires_at = now + ttl;
        let expires = expires_at.timestamp();
        let signature: String = self
            .link_mac(key, expires)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (
            format!("{}{key}?expires={expires}&signature={signature}", self.private_base),
            expires_at,
        )
    }

    /// Whether `signature` is this storage's for `key` until `expires`, and that time is ahead.
    pub fn verify_link(&self, key: &str, expires: i64, signature: &str, now: DateTime<Utc>) -> bool {
        if expires < now.timestamp() || signature.len() != 64 {
            return false;
        }
        let bytes: Option<Vec<u8>> = (0..64)
            .step_by(2)
            .map(|i| signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        bytes.is_some_and(|bytes| self.link_mac(key, expires).verify_slice(&bytes).is_ok())
    }

    /// Reads a private file; `None` when the key is not one storage made or the file is gone.
    pub async fn read_private(&self, key: &str) -> anyhow::Result<Option<PrivateFile>> {
        if !safe_key(key) {
            return Ok(None);
        }
        let Some(content_type) = key
            .rsplit_once('.')
            .and_then(|(_, ext)| CONTENT_TYPES.iter().find(|(e, _)| *e == ext))
            .map(|(_, mime)| *mime)
        else {
            return Ok(None);
        };
        match tokio::fs::read(self.private_root.join(key)).await {
            Ok(bytes) => Ok(Some(PrivateFile {
                bytes: bytes.into(),
                content_type,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("reading private file")),
        }
    }
}

/// The content type and extension of an accepted document or image, judged by its bytes:
/// images, PDF, ZIP, or plain UTF-8 text. Anything else (executables, HTML, SVG) is refused.
pub fn sniff_document(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    const ALLOWED: &[(&str, &str)] = &[
        ("image/png", "png"),
        ("image/jpeg", "jpg"),
        ("image/webp", "webp"),
        ("image/gif", "gif"),
        ("application/pdf", "pdf"),
        ("application/zip", "zip"),
    ];
    match infer::get(bytes) {
        Some(kind) => ALLOWED.iter().find(|(mime, _)| *mime == kind.mime_type()).copied(),
        None if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() => Some(("text/plain", "txt")),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents_are_sniffed() {
        assert_eq!(super::sniff_document(b"%PDF-1.7 ..."), Some(("application/pdf", "pdf")));
        assert_eq!(super::sniff_document(b"plain words"), Some(("text/plain", "txt")));
        assert_eq!(
            super::sniff_document(&[0x4d, 0x5a, 0x90, 0x00, 0x03]),
            None,
            "executables are refused"
        );
    }

    use super::*;

    #[test]
    fn display_names_drop_paths_and_controls() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\a\\cv.pdf"), "cv.pdf");
        assert_eq!(display_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(display_name("/"), "file");
    }

    fn storage(dir: &Path) -> Storage {
        Storage::local(
            dir.join("public"),
            dir.join("private"),
            "http://localhost:8080/",
            b"secret",
        )
    }

    #[tokio::test]
    async fn put_and_remove() {
        let dir = std::env::temp_dir().join(format!("gm-storage-{}", Uuid::new_v4()));
        let storage = storage(&dir);
        let stored = storage
            .put("avatars", "png", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(stored.url.starts_with("http://localhost:8080/uploads/avatars/"));
        assert!(dir.join("public").join(&stored.key).exists());
        storage
            .remove_by_url("http://localhost:8080/uploads/../../etc/passwd")
            .await;
        storage.remove_by_url(&stored.url).await;
        assert!(!dir.join("public").join(&stored.key).exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn private_files_open_only_with_an_unexpired_link_for_them() {
        let dir = std::env::temp_dir().join(format!("gm-storage-{}", Uuid::new_v4()));
        let storage = storage(&dir);
        let key = storage
            .put_private("verification", "pdf", bytes::Bytes::from_static(b"%PDF-1.7"))
            .await
            .unwrap();
        assert!(dir.join("private").join(&key).exists() && !dir.join("public").join(&key).exists());
        let now = Utc::now();
        let (url, expires_at) = storage.signed_url(&key, now, Duration::minutes(5));
        assert!(url.starts_with("http://localhost:8080/private/verification/"));
        let signature = url.rsplit_once("signature=").unwrap().1;
        let expires = expires_at.timestamp();
        assert!(storage.verify_link(&key, expires, signature, now));
        assert!(
            !storage.verify_link(&key, expires, signature, now + Duration::minutes(6)),
            "expired"
        );
        assert!(
            !storage.verify_link(&key, expires + 60, signature, now),
            "expiry changed"
        );
        assert!(
            !storage.verify_link("verification/other.pdf", expires, signature, now),
            "other file"
        );
        assert!(!storage.verify_link(&key, expires, "zz", now));
        let other = Storage::local(
            dir.join("public"),
            dir.join("private"),
            "http://localhost:8080/",
            b"other",
        );
        assert!(!other.verify_link(&key, expires, signature, now), "other server secret");
        let file = storage.read_private(&key).await.unwrap().unwrap();
        assert_eq!(
            (file.content_type, &file.bytes[..]),
            ("application/pdf", &b"%PDF-1.7"[..])
        );
        assert!(storage.read_private("../public/x.pdf").await.unwrap().is_none());
        storage.remove_private(&key).await;
        assert!(storage.read_private(&key).await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
