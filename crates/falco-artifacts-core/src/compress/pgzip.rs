//! gzip on every core, pigz-style: one gzip member whose deflate stream is cut into fixed
//! chunks, each compressed on its own with the previous 32 KiB as dictionary and ended with a
//! sync flush, so the pieces concatenate into one valid stream.
//!
//! The chunking is fixed, so the output depends on the level only, not on the thread count;
//! memory stays at a few chunks in flight per thread whatever the input size.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use flate2::{Compress, FlushCompress, Status};

/// Input per chunk: large enough that the sync-flush overhead and the lost context at chunk
/// edges stay far below 0.1 %, small enough to keep memory low.
const CHUNK: usize = 1024 * 1024;
/// The deflate window: what each chunk may refer back to.
const WINDOW: usize = 32 * 1024;

struct Job {
    data: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// A gzip writer compressing on `threads` threads.
pub(crate) struct ParallelGzEncoder<W: Write> {
    out: Option<W>,
    level: u32,
    buf: Vec<u8>,
    dict: Vec<u8>,
    /// CRC-32 of the input, through crc32fast (PCLMULQDQ where the CPU has it: flate2's own
    /// `Crc` took 1% of a build's CPU).
    crc: crc32fast::Hasher,
    /// Input bytes, for the trailer's ISIZE.
    size: u64,
    header_written: bool,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    /// Used when there is a single thread: compress in the caller's thread.
    local: Option<Compress>,
}

impl<W: Write> ParallelGzEncoder<W> {
    pub(crate) fn new(out: W, level: u32, threads: u32) -> Self {
        let threads = threads.max(1) as usize;
        let mut encoder = ParallelGzEncoder {
            out: Some(out),
            level,
            buf: Vec::with_capacity(CHUNK),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            size: 0,
            header_written: false,
            pending: VecDeque::new(),
            max_pending: threads * 2,
            jobs: None,
            workers: Vec::new(),
            local: None,
        };
        if threads == 1 {
            encoder.local = Some(Compress::new(flate2::Compression::new(level), false));
        } else {
            let (tx, rx) = mpsc::sync_channel::<Job>(threads);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..threads {
                let rx = Arc::clone(&rx);
                encoder
                    .workers
                    .push(std::thread::spawn(move || worker(&rx, level)));
            }
            encoder.jobs = Some(tx);
        }
        encoder
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.out
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            // No name, no mtime (0), OS = Unix: what `gzip -n` writes, for reproducibility.
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            self.out()?
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3])?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hands the buffered chunk to a worker (or compresses it here) and writes out what is
    /// done, in order.
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.crc.update(&data);
        self.size += data.len() as u64;
        let dict = std::mem::take(&mut self.dict);
        if data.len() >= WINDOW {
            self.dict.extend_from_slice(&data[data.len() - WINDOW..]);
        } else {
            // A short chunk is the last one; keep the window whole anyway.
            let keep = WINDOW.saturating_sub(data.len()).min(dict.len());
            self.dict.extend_from_slice(&dict[dict.len() - keep..]);
            self.dict.extend_from_slice(&data);
        }
        if let Some(local) = self.local.as_mut() {
            let compressed = compress_chunk(local, &data, &dict, last)?;
            return self.out()?.write_all(&compressed);
        }
        let (reply, result) = mpsc::sync_channel(1);
        let job = Job {
            data,
            dict,
            last,
            reply,
        };
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("gzip workers already stopped"))?
            .send(job)
            .map_err(|_| io::Error::other("gzip worker stopped"))?;
        self.pending.push_back(result);
        while self.pending.len() > self.max_pending {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        if let Some(result) = self.pending.pop_front() {
            let compressed = result
                .recv()
                .map_err(|_| io::Error::other("gzip worker stopped"))??;
            self.out()?.write_all(&compressed)?;
        }
        Ok(())
    }

    /// Ends the gzip member (last chunk, CRC-32, size) and hands back the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.dispatch(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let crc = self.crc.clone().finalize();
        // ISIZE is the input size modulo 2^32.
        let size = (self.size & 0xffff_ffff) as u32;
        let mut out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))?;
        out.write_all(&crc.to_le_bytes())?;
        out.write_all(&size.to_le_bytes())?;
        Ok(out)
    }
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, mut input: &[u8]) -> io::Result<usize> {
        let total = input.len();
        while !input.is_empty() {
            let room = CHUNK - self.buf.len();
            let take = room.min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() == CHUNK {
                self.dispatch(false)?;
            }
        }
        Ok(total)
    }

    /// Writes out finished chunks; a partial chunk stays buffered, since cutting it early
    /// would make the output depend on when callers flush.
    fn flush(&mut self) -> io::Result<()> {
        self.out()?.flush()
    }
}

impl<W: Write> Drop for ParallelGzEncoder<W> {
    fn drop(&mut self) {
        self.pending.clear();
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker that panicked has already reported through its dropped reply channel.
            let _ = worker.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, level: u32) {
    let mut compress = Compress::new(flate2::Compression::new(level), false);
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let result = compress_chunk(&mut compress, &job.data, &job.dict, job.last);
        // The encoder may have been dropped after an error elsewhere; nobody waits then.
        let _ = job.reply.send(result);
    }
}

/// Raw deflate of one chunk, primed with `dict`; ends byte-aligned with a sync flush, or with
/// the final block when `last`.
fn compress_chunk(
    compress: &mut Compress,
    data: &[u8],
    dict: &[u8],
    last: bool,
) -> io::Result<Vec<u8>> {
    compress.reset();
    if !dict.is_empty() {
        compress.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut input = data;
    loop {
        if out.len() == out.capacity() {
            out.reserve(64 * 1024);
        }
        let before = compress.total_in();
        let status = compress
            .compress_vec(input, &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(compress.total_in() - before).unwrap_or(input.len());
        input = &input[consumed.min(input.len())..];
        let done = match status {
            Status::StreamEnd => true,
            Status::Ok | Status::BufError => {
                !last && input.is_empty() && out.len() < out.capacity()
            }
        };
        if done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gz(data: &[u8], level: u32, threads: u32) -> Vec<u8> {
        let mut e = ParallelGzEncoder::new(Vec::new(), level, threads);
        // Odd write sizes cross chunk edges.
        for piece in data.chunks(70_001) {
            e.write_all(piece).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn valid_gzip_independent_of_threads() {
        // Three chunks and a bit, so several are in flight at once.
        let data: Vec<u8> = (0..(3 * CHUNK as u32 + 12_345))
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x3f)
            .collect();
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, data.len()] {
            let one = gz(&data[..len], 6, 1);
            let three = gz(&data[..len], 6, 3);
            assert_eq!(one, three, "len {len}");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data[..len], "len {len}");
        }
    }

    #[test]
    fn size_close_to_single_stream() {
        let text: Vec<u8> = (0..2_000_000u32)
            .flat_map(|i| format!("line {} of {}\n", i % 977, i % 13).into_bytes())
            .take(3_000_000)
            .collect();
        let ours = gz(&text, 6, 2).len() as f64;
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&text).unwrap();
        let reference = single.finish().unwrap().len() as f64;
        assert!(ours / reference < 1.02, "{ours} vs {reference}");
    }
}
