//! Penalties for loops whose recording aborts, as luajit keeps them: a small round-robin
//! cache keyed by the loop instruction. The first abort makes the loop wait
//! [`PENALTY_MIN`] hot-counter units before it is tried again; each later one doubles the
//! wait and adds a little randomness (so loops that abort together drift apart); once
//! the wait would pass [`PENALTY_MAX`] the loop is blacklisted. With these numbers a loop
//! that always aborts is tried exactly 11 times.

/// The first penalty: 36 back-edges (each takes 2 units off a hot counter).
pub const PENALTY_MIN: u16 = 36 * 2;
/// A penalty beyond this blacklists the loop.
pub const PENALTY_MAX: u32 = 60000;
/// Loops remembered at once; the oldest entry makes way for a new loop.
const PENALTY_SLOTS: usize = 64;
/// Random units (0..16) added to each doubled penalty.
const PENALTY_RANDOM_MASK: u32 = 15;

/// What to do with a loop whose recording aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Penalty {
    /// Set its hot counter to this many units before the next try.
    Wait(u16),
    /// Never try it again.
    Blacklist,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Address of the loop instruction (0: unused).
    pc: usize,
    value: u16,
}

pub struct Penalties {
    slots: [Slot; PENALTY_SLOTS],
    next: usize,
    /// xorshift64 state: deterministic, so runs (and tests) repeat.
    rng: u64,
}

impl Default for Penalties {
    fn default() -> Self {
        Penalties {
            slots: [Slot::default(); PENALTY_SLOTS],
            next: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Penalties {
    /// The recording of the loop at `pc` aborted: its penalty.
    pub fn penalise(&mut self, pc: *const u32) -> Penalty {
        let pc = pc as usize;
        let random = self.random() & PENALTY_RANDOM_MASK;
        if let Some(slot) = self.slots.iter_mut().find(|s| s.pc == pc) {
            let value = (u32::from(slot.value) << 1) + random;
            if value > PENALTY_MAX {
                return Penalty::Blacklist;
            }
            slot.value = value as u16;
            return Penalty::Wait(slot.value);
        }
        self.slots[self.next] = Slot {
            pc,
            value: PENALTY_MIN,
        };
        self.next = (self.next + 1) % PENALTY_SLOTS;
        Penalty::Wait(PENALTY_MIN)
    }

    /// Forget every penalty (`jit.flush()`).
    pub fn clear(&mut self) {
        self.slots = [Slot::default(); PENALTY_SLOTS];
        self.next = 0;
    }

    fn random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_blacklisted_on_its_eleventh_abort() {
        let mut p = Penalties::default();
        let pc = 0x1000 as *const u32;
        let mut waits = Vec::new();
        let verdict = loop {
            match p.penalise(pc) {
                Penalty::Wait(n) => waits.push(n),
                Penalty::Blacklist => break waits.len() + 1,
            }
        };
        assert_eq!(verdict, 11);
        assert_eq!(waits[0], PENALTY_MIN);
        for w in waits.windows(2) {
            assert!(w[1] >= w[0] * 2 && w[1] <= w[0] * 2 + 15, "{waits:?}");
        }
    }

    #[test]
    fn loops_are_penalised_apart_and_clear_forgets() {
        let mut p = Penalties::default();
        let (a, b) = (0x1000 as *const u32, 0x2000 as *const u32);
        assert_eq!(p.penalise(a), Penalty::Wait(PENALTY_MIN));
        assert_eq!(p.penalise(b), Penalty::Wait(PENALTY_MIN));
        assert!(matches!(p.penalise(a), Penalty::Wait(n) if n >= 2 * PENALTY_MIN));
        p.clear();
        assert_eq!(p.penalise(a), Penalty::Wait(PENALTY_MIN));
    }

    #[test]
    fn the_oldest_loop_makes_way() {
        let mut p = Penalties::default();
        let first = 0x1000 as *const u32;
        p.penalise(first);
        for i in 1..=PENALTY_SLOTS {
            p.penalise((0x1000 + 4 * i) as *const u32);
        }
        assert_eq!(p.penalise(first), Penalty::Wait(PENALTY_MIN), "forgotten");
    }
}
