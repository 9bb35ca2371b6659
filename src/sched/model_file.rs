//! Reading a model file named by the operator (`--model FILE`, `swap FILE`)
//! without trusting what the path points to: only a regular file of at most
//! [`MAX_PAYLOAD`] bytes is read. A FIFO, a device such as /dev/zero, a
//! directory, a huge (or sparse) file or a symlink loop is refused with a
//! sentence instead of hanging or exhausting memory.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

use arbor_proto::control::MAX_PAYLOAD;

/// What a non-regular file is, for the refusal.
fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The bytes of the model file at `path`, or why it cannot be a model.
pub fn read_model_file(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_PAYLOAD)
}

/// [`read_model_file`] with a size limit of `cap` bytes.
pub fn read_capped(path: &Path, cap: usize) -> Result<Vec<u8>> {
    let shown = path.display();
    // O_NONBLOCK: opening a FIFO without a writer must not block; the type
    // check below refuses it before any read.
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("opening the model {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading the attributes of {shown}"))?;
    if !meta.file_type().is_file() {
        bail!(
            "{shown} is {}, not a model file: give a regular ONNX file",
            kind(meta.file_type())
        );
    }
    if meta.len() > cap as u64 {
        bail!(
            "{shown} is {} bytes, more than the {cap}-byte model limit",
            meta.len()
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // A file that grows while being read is still capped.
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading the model {shown}"))?;
    if bytes.len() > cap {
        bail!("{shown} grew past the {cap}-byte model limit while being read");
    }
    Ok(bytes)
}
