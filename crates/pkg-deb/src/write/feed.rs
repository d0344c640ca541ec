//! Reading and hashing payload files on a thread of their own.
//!
//! `md5sums` needs an MD5 of every payload file, and MD5 costs about as much CPU as zstd -3
//! compresses: done on the archive writer's thread it runs one after the other with
//! compression. Here one thread reads the files in archive order and hashes them, and the
//! writer takes their bytes through a bounded channel, so hashing overlaps compression on a
//! second core while memory stays at a few chunks whatever the payload size.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use md5::{Digest, Md5};

/// Bytes read from a file per message.
const CHUNK: usize = 1024 * 1024;
/// Chunks in flight between the reader and the writer: the memory bound is `CHUNK * DEPTH`.
const DEPTH: usize = 4;

/// What the reading thread says about the file being read.
enum Message {
    Chunk(Vec<u8>),
    /// The file ended; its MD5.
    End([u8; 16]),
    /// Opening or reading failed; nothing more comes for this or any later file.
    Failed(io::Error),
}

/// The writer's end: yields the files in the order they were given to [`spawn`].
pub(crate) struct Feed {
    messages: Receiver<Message>,
    recycle: SyncSender<Vec<u8>>,
}

/// Starts reading `files` in order on a thread of `scope`. The thread stops at the first
/// error, or as soon as the [`Feed`] is dropped.
pub(crate) fn spawn<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    files: Vec<&'env Path>,
) -> Feed {
    let (sender, messages) = sync_channel(DEPTH);
    // Room for every buffer there can be, so returning one never blocks the writer.
    let (recycle, spare) = sync_channel(DEPTH + 2);
    scope.spawn(move || read_all(&files, &sender, &spare));
    Feed { messages, recycle }
}

fn read_all(files: &[&Path], sender: &SyncSender<Message>, spare: &Receiver<Vec<u8>>) {
    for path in files {
        let message = match read_one(path, sender, spare) {
            Ok(Some(md5)) => Message::End(md5),
            Ok(None) => return,
            Err(e) => Message::Failed(e),
        };
        let failed = matches!(message, Message::Failed(_));
        if sender.send(message).is_err() || failed {
            return;
        }
    }
}

/// Sends the chunks of one file; `None` when the writer has gone away.
fn read_one(
    path: &Path,
    sender: &SyncSender<Message>,
    spare: &Receiver<Vec<u8>>,
) -> io::Result<Option<[u8; 16]>> {
    let mut file = File::open(path)?;
    let mut md5 = Md5::new();
    loop {
        // `read_to_end` fills spare capacity without zeroing it first: a small file costs its
        // own size, not a chunk's.
        let mut buf = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        buf.clear();
        (&mut file).take(CHUNK as u64).read_to_end(&mut buf)?;
        let n = buf.len();
        if n > 0 {
            md5.update(&buf);
            if sender.send(Message::Chunk(buf)).is_err() {
                return Ok(None);
            }
        }
        if n < CHUNK {
            return Ok(Some(md5.finalize().into()));
        }
    }
}

impl Feed {
    /// A reader over the next file; read it to its end before asking for the next one.
    pub(crate) fn next_file(&mut self) -> FileReader<'_> {
        FileReader {
            feed: self,
            chunk: Vec::new(),
            at: 0,
            md5: None,
            error: None,
        }
    }
}

/// The bytes of one file as the reading thread sends them.
pub(crate) struct FileReader<'a> {
    feed: &'a mut Feed,
    chunk: Vec<u8>,
    at: usize,
    md5: Option<[u8; 16]>,
    /// The reading thread's error, kept apart from archive write errors so the error names
    /// the payload file.
    pub(crate) error: Option<io::Error>,
}

impl FileReader<'_> {
    /// The file's MD5 once it has been read to its end.
    pub(crate) fn md5(&self) -> Option<[u8; 16]> {
        self.md5
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            if self.md5.is_some() {
                return Ok(0);
            }
            let used = std::mem::take(&mut self.chunk);
            if used.capacity() > 0 {
                // Full only if the reader stopped; then the buffer is not needed anyway.
                let _ = self.feed.recycle.try_send(used);
            }
            self.at = 0;
            match self.feed.messages.recv() {
                Ok(Message::Chunk(chunk)) => self.chunk = chunk,
                Ok(Message::End(md5)) => self.md5 = Some(md5),
                Ok(Message::Failed(e)) => {
                    let kind = e.kind();
                    self.error = Some(e);
                    return Err(io::Error::new(kind, "payload file read failed"));
                }
                Err(_) => {
                    return Err(io::Error::other("payload reading thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
