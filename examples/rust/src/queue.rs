//! A connection's queue of frames, bounded in bytes.
//!
//! The hub pushes without waiting; the connection pops as fast as its
//! client reads. A push that would take the queue past its byte limit is
//! refused: the reader has fallen behind, and the hub closes it rather than
//! hold more for it. Frames share their buffers with every other reader,
//! so the limit bounds what a stuck reader keeps alive, not copies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::frame::Frame;

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds too many bytes already: its reader fell behind.
    Full,
    /// The receiving side is gone.
    Closed,
}

/// A new queue holding at most `byte_limit` bytes of frames (a frame
/// larger than that on its own still fits into an empty queue).
pub fn queue(byte_limit: usize) -> (Sender, Receiver) {
    let (frames, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Sender {
            frames,
            queued: queued.clone(),
            byte_limit,
        },
        Receiver {
            frames: receiver,
            queued,
        },
    )
}

/// The hub's end.
#[derive(Debug)]
pub struct Sender {
    frames: mpsc::UnboundedSender<Frame>,
    /// Bytes pushed and not yet popped.
    queued: Arc<AtomicUsize>,
    byte_limit: usize,
}

impl Sender {
    /// Queues a frame, unless that would pass the byte limit.
    pub fn push(&self, frame: Frame) -> Result<(), PushError> {
        let size = frame.size();
        let before = self.queued.fetch_add(size, Ordering::AcqRel);
        if before > 0 && before + size > self.byte_limit {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return Err(PushError::Full);
        }
        self.frames.send(frame).map_err(|_| PushError::Closed)
    }
}

/// The connection's end.
#[derive(Debug)]
pub struct Receiver {
    frames: mpsc::UnboundedReceiver<Frame>,
    queued: Arc<AtomicUsize>,
}

impl Receiver {
    /// The next frame; `None` once the sender is gone and the queue empty.
    pub async fn pop(&mut self) -> Option<Frame> {
        let frame = self.frames.recv().await?;
        self.queued.fetch_sub(frame.size(), Ordering::AcqRel);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbus::Position;

    fn frame() -> Frame {
        Frame::of_gap(pushbus::frames::gap(
            "t",
            "k",
            Position { epoch: 1, seq: 1 },
        ))
    }

    #[tokio::test]
    async fn pushes_past_the_byte_limit_are_refused_until_frames_are_popped() {
        let size = frame().size();
        let (sender, mut receiver) = queue(2 * size);
        assert_eq!(sender.push(frame()), Ok(()));
        assert_eq!(sender.push(frame()), Ok(()));
        assert_eq!(sender.push(frame()), Err(PushError::Full));
        assert_eq!(receiver.pop().await, Some(frame()));
        assert_eq!(sender.push(frame()), Ok(()));
        drop(sender);
        assert_eq!(receiver.pop().await, Some(frame()));
        assert_eq!(receiver.pop().await, Some(frame()));
        assert_eq!(receiver.pop().await, None);
    }

    #[tokio::test]
    async fn an_empty_queue_takes_even_an_oversized_frame() {
        let (sender, mut receiver) = queue(1);
        assert_eq!(sender.push(frame()), Ok(()));
        assert_eq!(sender.push(frame()), Err(PushError::Full));
        receiver.pop().await;
        drop(receiver);
        assert_eq!(sender.push(frame()), Err(PushError::Closed));
    }
}
