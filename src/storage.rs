//! File storage for uploads: a local folder served under `/uploads/`.
//!
//! Names are random (UUID v4 plus an extension chosen from the sniffed content): nothing a
//! client sends ever becomes part of a path.

use std::path::{Path, PathBuf};

use anyhow::Context;
use uuid::Uuid;

/// URL path under which stored files are served.
pub const PUBLIC_PREFIX: &str = "/uploads";

/// A stored file.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Path relative to the storage root, e.g. `avatars/6f1c….png`.
    pub key: String,
    /// Absolute URL clients fetch it from.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    public_base: String,
}

impl Storage {
    /// Storage rooted at `root`, with URLs under `public_url` + `/uploads/`.
    pub fn local(root: impl Into<PathBuf>, public_url: &str) -> Self {
        Self {
            root: root.into(),
            public_base: format!("{}{PUBLIC_PREFIX}/", public_url.trim_end_matches('/')),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the root folder if needed.
    pub async fn ensure_root(&self) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .with_context(|| format!("creating upload folder {}", self.root.display()))
    }

    /// Writes `bytes` under `folder` with a fresh random name.
    pub async fn put(&self, folder: &'static str, ext: &'static str, bytes: bytes::Bytes) -> anyhow::Result<Stored> {
        let key = format!("{folder}/{}.{ext}", Uuid::new_v4().simple());
        let path = self.root.join(&key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .context("creating upload folder")?;
        }
        // Write to a temporary name and rename, so a reader never sees half a file.
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, &bytes).await.context("writing upload")?;
        tokio::fs::rename(&tmp, &path).await.context("renaming upload")?;
        Ok(Stored {
            url: format!("{}{key}", self.public_base),
            key,
        })
    }

    /// Removes a file this storage handed out, given its URL. Best effort: a failure is logged.
    pub async fn remove_by_url(&self, url: &str) {
        let Some(key) = url.strip_prefix(&self.public_base) else {
            return;
        };
        let safe = !key.is_empty()
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != ".." && part != ".")
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
        if !safe {
            return;
        }
        if let Err(e) = tokio::fs::remove_file(self.root.join(key)).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, key, "could not remove replaced upload");
            }
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

    #[tokio::test]
    async fn put_and_remove() {
        let dir = std::env::temp_dir().join(format!("gm-storage-{}", Uuid::new_v4()));
        let storage = Storage::local(&dir, "http://localhost:8080/");
        let stored = storage
            .put("avatars", "png", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(stored.url.starts_with("http://localhost:8080/uploads/avatars/"));
        assert!(dir.join(&stored.key).exists());
        storage
            .remove_by_url("http://localhost:8080/uploads/../../etc/passwd")
            .await;
        storage.remove_by_url(&stored.url).await;
        assert!(!dir.join(&stored.key).exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
