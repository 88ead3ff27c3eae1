//! Streaming an xlsx: the lean reader with merged regions found by a
//! helper thread, or calamine when the workbook is unusual.

use super::*;

pub(super) fn stream_xlsx(
    bytes: Vec<u8>,
    limits: &Limits,
    emit: &mut dyn FnMut(Frame),
) -> Result<(), ReadError> {
    if let Some(book) = crate::read::lean::Book::open(&bytes) {
        if let Some(done) = stream_xlsx_lean(book, &bytes, limits, emit) {
            return done;
        }
    }
    stream_xlsx_calamine(bytes, limits, emit)
}

/// Holds back the frames of a workbook until the merged regions of its
/// sheets are known. They sit at the end of each sheet's XML, so a helper
/// thread inflates the sheets to find them while the cells are already
/// being parsed; the `Book` frame, which carries them, must go first.
/// The merged regions of all sheets: being found, or found.
pub(super) enum Job<'s> {
    Thread(std::thread::ScopedJoinHandle<'s, Option<Vec<Vec<Merge>>>>),
    Done(Option<Vec<Vec<Merge>>>),
}

impl Job<'_> {
    pub(super) fn is_finished(&self) -> bool {
        match self {
            Job::Thread(j) => j.is_finished(),
            Job::Done(_) => true,
        }
    }

    pub(super) fn join(self) -> Option<Vec<Vec<Merge>>> {
        match self {
            Job::Thread(j) => j.join().ok().flatten(),
            Job::Done(m) => m,
        }
    }
}

pub(super) struct Gate<'s, 'e> {
    pub(super) job: Option<Job<'s>>,
    pub(super) sheets: Vec<(String, bool)>,
    pub(super) is_1904: bool,
    pub(super) pending: Vec<Frame>,
    pub(super) emit: &'e mut dyn FnMut(Frame),
    /// The merged regions could not be read: calamine reads the file.
    pub(super) failed: bool,
    /// A limit was exceeded while frames were held back.
    pub(super) error: Option<ReadError>,
    pub(super) limits: Limits,
    /// The workbook's `zhenxing.*` custom properties.
    pub(super) properties: Vec<(String, String)>,
}

/// Frames held back at most; then the reader waits for the helper.
pub(super) const GATE_FRAMES: usize = 8;

impl Gate<'_, '_> {
    pub(super) fn send(&mut self, f: Frame) -> Result<(), ReadError> {
        if self.job.is_none() {
            if !self.failed {
                (self.emit)(f);
            }
            return Ok(());
        }
        self.pending.push(f);
        let done = self.job.as_ref().is_some_and(|j| j.is_finished());
        if done || self.pending.len() >= GATE_FRAMES {
            self.open()?;
        }
        Ok(())
    }

    /// Waits for the merged regions, then sends the book and what is held.
    pub(super) fn open(&mut self) -> Result<(), ReadError> {
        let Some(job) = self.job.take() else {
            return Ok(());
        };
        let Some(merges) = job.join() else {
            self.failed = true;
            self.pending.clear();
            return Ok(());
        };
        let mut sheets = Vec::new();
        for ((name, hidden), merges) in std::mem::take(&mut self.sheets).into_iter().zip(merges) {
            let merges = header_merges(&name, merges, &self.limits)?;
            sheets.push(SheetMeta {
                name,
                hidden,
                merges,
                has_merge_info: true,
            });
        }
        (self.emit)(Frame::Book {
            format: Format::Xlsx,
            is_1904: self.is_1904,
            encoding: None,
            sheets,
            properties: std::mem::take(&mut self.properties),
        });
        for f in self.pending.drain(..) {
            (self.emit)(f);
        }
        Ok(())
    }
}

/// One sheet through the lean reader, its rows sent through the gate:
/// `None` to go on with the next sheet, else how the book's reading
/// stops (`Some(None)`: the merged regions could not be found, calamine
/// reads the book instead).
fn stream_sheet(
    book: &mut crate::read::lean::Book<'_>,
    i: usize,
    gate: &std::cell::RefCell<Gate<'_, '_>>,
    limits: &Limits,
    budget: &mut u64,
) -> Option<Option<Result<(), ReadError>>> {
    let name = book.sheets[i].name.clone();
    let mut send = |f: Frame| {
        let mut g = gate.borrow_mut();
        if let Err(e) = g.send(f) {
            g.error.get_or_insert(e);
        }
    };
    let mut sink = RowSink {
        b: SheetBuilder::new(limits),
        sheet: i,
        name: name.clone(),
        emit: &mut send,
    };
    let read = book.cells(
        i,
        &mut |start, end| {
            let (s, e) = (
                (start.0 as u64, start.1 as u64),
                (end.0 as u64, end.1 as u64),
            );
            check_dimension(&name, s, e, limits)
        },
        &mut |r, c, cell| {
            if gate.borrow().failed {
                return Err(ReadError::Corrupt("merged regions unreadable".into()));
            }
            if let Some(e) = gate.borrow().error.clone() {
                return Err(e);
            }
            sink.cell(r, c, cell, budget)
        },
    );
    if gate.borrow().failed {
        return Some(None);
    }
    if let Err(e) = read {
        return Some(Some(Err(e)));
    }
    sink.finish();
    if let Some(e) = gate.borrow().error.clone() {
        return Some(Some(Err(e)));
    }
    None
}

/// The lean reader; `None` (before anything is sent) when a sheet's merged
/// regions cannot be found, so that calamine reads the file.
pub(super) fn stream_xlsx_lean(
    mut book: crate::read::lean::Book<'_>,
    bytes: &[u8],
    limits: &Limits,
    emit: &mut dyn FnMut(Frame),
) -> Option<Result<(), ReadError>> {
    let parts = book.sheet_parts()?;
    std::thread::scope(|scope| {
        // a small stack: the helper only inflates and searches bytes. When no
        // thread can be started (a tight address-space limit), it runs here.
        let helper = std::thread::Builder::new()
            .name("merges".into())
            .stack_size(256 << 10)
            .spawn_scoped(scope, || crate::read::parts::merges_of_parts(bytes, &parts));
        let job = match helper {
            Ok(job) => Job::Thread(job),
            Err(_) => Job::Done(crate::read::parts::merges_of_parts(bytes, &parts)),
        };
        // the shared strings are read while the helper looks for merged regions
        book.load()?;
        let gate = std::cell::RefCell::new(Gate {
            job: Some(job),
            sheets: book
                .sheets
                .iter()
                .map(|s| (s.name.clone(), s.hidden))
                .collect(),
            is_1904: book.is_1904,
            pending: Vec::new(),
            emit,
            failed: false,
            error: None,
            limits: *limits,
            properties: crate::read::parts::form_properties(bytes),
        });
        let mut budget = limits.max_cells;
        for i in 0..book.sheets.len() {
            if let Some(stop) = stream_sheet(&mut book, i, &gate, limits, &mut budget) {
                return stop;
            }
        }
        let mut gate = gate.into_inner();
        if let Err(e) = gate.open() {
            return Some(Err(e));
        }
        (!gate.failed).then_some(Ok(()))
    })
}
