//! Progress of the long commands (`migrate`, `seed`, the load generator): a bar on a
//! terminal, plain lines anywhere else.
//!
//! When stderr is a terminal, an `indicatif` bar shows the position, the total, the elapsed
//! time and an ETA, redrawn in place. When it is not (CI, a pipe, a log file), a
//! [`LinePrinter`] writes plain lines instead: one when the phase (the message) changes, one
//! at most every [`LINE_INTERVAL`] while the position moves within a phase, and one at the end.
//! Never an escape code, never a line per update.
//!
//! A [`Progress`] is cheap to clone (clones report to the same bar) and can be shared between
//! tasks and threads. Updates are cheap but not free (a lock in line mode): code that is being
//! measured should not update it per request but let [`Progress::follow_clock`] (or a counter
//! read on a timer) move it.

use std::{
    fmt::Display,
    io::{IsTerminal, Write},
    sync::{mpsc, Arc, Mutex, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without a terminal, the least time between two lines about the same phase.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// What the position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Steps that each have a message saying which one it is ("applying 3/11 …"): the
    /// message carries the count, so the bar does not repeat it and no lines are printed
    /// between two messages.
    Steps,
    /// Items of this name (rows, users, seconds): the bar shows `position/total name`.
    Items(&'static str),
}

/// A progress report: a terminal bar, plain lines, or nothing.
#[derive(Clone)]
pub struct Progress(Kind);

#[derive(Clone)]
enum Kind {
    Bar(ProgressBar),
    Lines(Arc<Mutex<LinePrinter<Box<dyn Write + Send>>>>),
    Hidden,
}

impl Progress {
    /// A bar when stderr is a terminal (and `TERM` is not `dumb`), plain lines on stderr
    /// otherwise. `prefix` names the command or phase ("seed catalogue").
    pub fn new(prefix: &str, unit: Unit) -> Self {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if std::io::stderr().is_terminal() && !dumb {
            Self::bar(prefix, unit)
        } else {
            Self::lines(prefix, unit, Box::new(std::io::stderr()))
        }
    }

    /// A bar on stderr.
    pub fn bar(prefix: &str, unit: Unit) -> Self {
        let template = match unit {
            Unit::Steps => "{prefix:.bold} [{bar:30.cyan/blue}] {msg} ({elapsed}, ETA {eta})".to_owned(),
            Unit::Items(name) => format!(
                "{{prefix:.bold}} [{{bar:30.cyan/blue}}] {{human_pos}}/{{human_len}} {name} {{msg}} \
                 ({{elapsed}}, ETA {{eta}})"
            ),
        };
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(prefix.to_owned());
        // Redraws the elapsed time while one long statement runs and nothing else moves.
        bar.enable_steady_tick(Duration::from_millis(250));
        Self(Kind::Bar(bar))
    }

    /// Plain lines to `out`.
    pub fn lines(prefix: &str, unit: Unit, out: Box<dyn Write + Send>) -> Self {
        let printer = LinePrinter::new(out, prefix, unit, LINE_INTERVAL, Instant::now());
        Self(Kind::Lines(Arc::new(Mutex::new(printer))))
    }

    /// Reports nothing (the server's start-up, tests).
    pub fn hidden() -> Self {
        Self(Kind::Hidden)
    }

    fn with_lines(&self, f: impl FnOnce(&mut LinePrinter<Box<dyn Write + Send>>)) {
        if let Kind::Lines(printer) = &self.0 {
            f(&mut printer.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// Sets the total.
    pub fn set_length(&self, length: u64) {
        match &self.0 {
            Kind::Bar(bar) => bar.set_length(length),
            Kind::Lines(_) => self.with_lines(|p| p.set_length(length)),
            Kind::Hidden => {}
        }
    }

    /// Sets the position (how many are done).
    pub fn set_position(&self, position: u64) {
        match &self.0 {
            Kind::Bar(bar) => bar.set_position(position),
            Kind::Lines(_) => self.with_lines(|p| p.set_position(position, Instant::now())),
            Kind::Hidden => {}
        }
    }

    /// Advances the position by `delta`.
    pub fn inc(&self, delta: u64) {
        match &self.0 {
            Kind::Bar(bar) => bar.inc(delta),
            Kind::Lines(_) => self.with_lines(|p| p.inc(delta, Instant::now())),
            Kind::Hidden => {}
        }
    }

    /// Names the current phase or step; a changed message is a line of its own.
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.0 {
            Kind::Bar(bar) => bar.set_message(message),
            Kind::Lines(_) => self.with_lines(|p| p.set_message(message, Instant::now())),
            Kind::Hidden => {}
        }
    }

    /// Prints a line of its own (above the bar on a terminal).
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.0 {
            Kind::Bar(bar) => bar.println(line),
            Kind::Lines(_) => self.with_lines(|p| p.println(line.as_ref(), Instant::now())),
            Kind::Hidden => {}
        }
    }

    /// Ends the report with `summary`: `{prefix}: {summary} ({elapsed})`, in place of the bar
    /// on a terminal.
    pub fn finish(&self, summary: impl Display) {
        match &self.0 {
            Kind::Bar(bar) => {
                let line = format!("{}: {summary} ({})", bar.prefix(), duration_text(bar.elapsed()));
                bar.finish_and_clear();
                // Nothing useful to do when stderr is gone.
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            Kind::Lines(_) => self.with_lines(|p| p.finish(&summary.to_string(), Instant::now())),
            Kind::Hidden => {}
        }
    }

    /// For a phase known in time (a load test run): moves the position from `start` to
    /// `start + seconds` as the seconds pass, from a thread that wakes four times a second,
    /// so the measured work itself never touches the progress. Dropping the guard stops it
    /// and leaves the position at the end of the phase.
    pub fn follow_clock(&self, start: u64, seconds: u64) -> ClockGuard {
        let (stop, stopped) = mpsc::channel::<()>();
        let progress = self.clone();
        let began = Instant::now();
        let thread = std::thread::Builder::new()
            .name("progress-clock".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_millis(250)) {
                    progress.set_position(start + began.elapsed().as_secs().min(seconds));
                }
            })
            .ok();
        ClockGuard {
            progress: self.clone(),
            end: start + seconds,
            stop: Some(stop),
            thread,
        }
    }
}

/// Stops a [`Progress::follow_clock`] thread when dropped.
pub struct ClockGuard {
    progress: Progress,
    end: u64,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.progress.set_position(self.end);
    }
}

/// Progress as plain lines: the report when stderr is not a terminal. Time comes in as
/// arguments, so tests can drive it.
pub struct LinePrinter<W: Write> {
    out: W,
    prefix: String,
    unit: Unit,
    length: Option<u64>,
    position: u64,
    message: String,
    started: Instant,
    every: Duration,
    last_line: Instant,
    /// The position the last line showed.
    shown: u64,
}

impl<W: Write> LinePrinter<W> {
    /// A printer that starts counting time at `started` and prints a status line at most
    /// every `every` between two messages.
    pub fn new(out: W, prefix: &str, unit: Unit, every: Duration, started: Instant) -> Self {
        Self {
            out,
            prefix: prefix.to_owned(),
            unit,
            length: None,
            position: 0,
            message: String::new(),
            started,
            every,
            last_line: started,
            shown: 0,
        }
    }

    /// What was written.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn write(&mut self, line: &str, now: Instant) {
        // A progress line that cannot be written is not worth failing the command for.
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
        self.last_line = now;
        self.shown = self.position;
    }

    /// Sets the total.
    pub fn set_length(&mut self, length: u64) {
        self.length = Some(length);
    }

    /// Sets the position; prints a status line when the last line is `every` old.
    pub fn set_position(&mut self, position: u64, now: Instant) {
        self.position = position;
        let due = now.saturating_duration_since(self.last_line) >= self.every;
        if due && position != self.shown && matches!(self.unit, Unit::Items(_)) {
            let line = format!("{}: {}", self.prefix, self.status(now));
            self.write(&line, now);
        }
    }

    /// Advances the position by `delta`.
    pub fn inc(&mut self, delta: u64, now: Instant) {
        self.set_position(self.position.saturating_add(delta), now);
    }

    /// Prints `{prefix}: {message}` when the message changed.
    pub fn set_message(&mut self, message: String, now: Instant) {
        if message != self.message {
            let line = format!("{}: {message}", self.prefix);
            self.message = message;
            self.write(&line, now);
        }
    }

    /// Prints `line` as it is.
    pub fn println(&mut self, line: &str, now: Instant) {
        self.write(line, now);
    }

    /// Prints `{prefix}: {summary} ({elapsed})`.
    pub fn finish(&mut self, summary: &str, now: Instant) {
        let elapsed = duration_text(now.saturating_duration_since(self.started));
        let line = format!("{}: {summary} ({elapsed})", self.prefix);
        self.write(&line, now);
    }

    /// `{message}, {position}/{length} {unit} ({percent} %, {elapsed} elapsed, ETA {eta})`.
    fn status(&self, now: Instant) -> String {
        let elapsed = now.saturating_duration_since(self.started);
        let name = match self.unit {
            Unit::Items(name) => name,
            Unit::Steps => "steps",
        };
        let mut text = String::new();
        if !self.message.is_empty() {
            text.push_str(&self.message);
            text.push_str(", ");
        }
        match self.length.filter(|l| *l > 0) {
            Some(length) => {
                let done = self.position.min(length);
                let percent = done * 100 / length;
                text.push_str(&format!(
                    "{}/{length} {name} ({percent} %, {} elapsed",
                    self.position,
                    duration_text(elapsed)
                ));
                if done > 0 && done < length {
                    let rest = elapsed.mul_f64((length - done) as f64 / done as f64);
                    text.push_str(&format!(", ETA {}", duration_text(rest)));
                }
                text.push(')');
            }
            None => text.push_str(&format!(
                "{} {name} ({} elapsed)",
                self.position,
                duration_text(elapsed)
            )),
        }
        text
    }
}

/// `4.2 s` under a minute, `3 min 07 s` above.
pub fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(unit: Unit, at: Instant) -> LinePrinter<Vec<u8>> {
        LinePrinter::new(Vec::new(), "seed catalogue", unit, Duration::from_secs(10), at)
    }

    fn text(printer: LinePrinter<Vec<u8>>) -> String {
        String::from_utf8(printer.into_inner()).unwrap()
    }

    #[test]
    fn phases_are_lines_and_positions_at_most_one_line_per_interval() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut p = printer(Unit::Items("rows"), t0);
        p.set_length(1_000);
        p.set_message("users".into(), s(0));
        for i in 1..=100 {
            p.inc(1, t0 + Duration::from_millis(50 * i)); // 5 s of updates: no line
        }
        p.set_message("users".into(), s(6)); // the same phase: no line
        p.set_message("gigs".into(), s(6));
        for i in 0..40 {
            p.inc(10, s(7) + Duration::from_millis(250 * i)); // 7 s … 16.75 s
        }
        p.set_position(1_000, s(30));
        p.set_position(1_000, s(45)); // due, but nothing moved since the last line
        p.finish("seeded 1000 rows", s(46));
        assert_eq!(
            text(p),
            "seed catalogue: users\n\
             seed catalogue: gigs\n\
             seed catalogue: gigs, 470/1000 rows (47 %, 16.0 s elapsed, ETA 18.0 s)\n\
             seed catalogue: gigs, 1000/1000 rows (100 %, 30.0 s elapsed)\n\
             seed catalogue: seeded 1000 rows (46.0 s)\n"
        );
    }

    #[test]
    fn steps_print_their_messages_only() {
        let t0 = Instant::now();
        let mut p = printer(Unit::Steps, t0);
        p.set_length(2);
        p.set_message("applying 1/2 2025-01-01-000000_create_users".into(), t0);
        p.inc(1, t0 + Duration::from_secs(20));
        p.set_message(
            "applying 2/2 2025-01-02-000000_create_gigs".into(),
            t0 + Duration::from_secs(20),
        );
        p.inc(1, t0 + Duration::from_secs(45));
        p.finish("applied 2 migrations", t0 + Duration::from_secs(75));
        assert_eq!(
            text(p),
            "seed catalogue: applying 1/2 2025-01-01-000000_create_users\n\
             seed catalogue: applying 2/2 2025-01-02-000000_create_gigs\n\
             seed catalogue: applied 2 migrations (1 min 15 s)\n"
        );
    }

    #[test]
    fn a_printer_without_a_total_counts_and_never_writes_escape_codes() {
        let t0 = Instant::now();
        let mut p = printer(Unit::Items("subscribers"), t0);
        p.inc(3, t0 + Duration::from_secs(11));
        p.println("fan-out: 3 of 3 subscribed (0 failed)", t0 + Duration::from_secs(12));
        let out = text(p);
        assert_eq!(
            out,
            "seed catalogue: 3 subscribers (11.0 s elapsed)\nfan-out: 3 of 3 subscribed (0 failed)\n"
        );
        assert!(!out.contains('\x1b') && !out.contains('\r'));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_text(Duration::from_millis(4_240)), "4.2 s");
        assert_eq!(duration_text(Duration::from_secs(187)), "3 min 07 s");
    }

    #[test]
    fn a_clock_leaves_the_position_at_the_end_of_its_phase() {
        let shared = SharedBuffer::default();
        let printer = LinePrinter::new(
            Box::new(shared.clone()) as Box<dyn Write + Send>,
            "userByUsername",
            Unit::Items("s"),
            Duration::ZERO,
            Instant::now(),
        );
        let progress = Progress(Kind::Lines(Arc::new(Mutex::new(printer))));
        progress.set_length(20);
        // Dropped at once: the thread stops before its first tick, and the position jumps
        // to the end of the phase.
        drop(progress.follow_clock(10, 5));
        let out = shared.text();
        assert!(out.starts_with("userByUsername: 15/20 s (75 %, "), "{out}");
        assert_eq!(out.lines().count(), 1, "{out}");
    }

    /// A writer whose bytes stay readable after it was handed over.
    #[derive(Clone, Default)]
    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl SharedBuffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
