use parakeet_trt_sys as sys;
use std::ffi::CStr;
use std::fmt;

/// What kind of failure a call reported (`ptrt_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// NULL pointer, bad option, struct_size too small, a path with a NUL byte.
    InvalidArgument,
    /// Empty audio, NaN/Inf samples, unsupported sample rate, too long.
    InvalidAudio,
    /// Model folder missing, unreadable, corrupted or unsupported.
    Model,
    /// An engine or artifact disagrees with the model's contract.
    ContractViolation,
    /// An engine failed while running (a Rust engine's `Err` or panic included).
    Engine,
    /// Call not valid in the object's current state.
    State,
    /// Not compiled in or not present on this machine.
    Unavailable,
    Internal,
    /// A status this crate does not know (a newer library).
    Other(i32),
}

impl Status {
    pub fn from_raw(status: sys::ptrt_status) -> Self {
        match status {
            sys::PTRT_ERROR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::PTRT_ERROR_INVALID_AUDIO => Status::InvalidAudio,
            sys::PTRT_ERROR_MODEL => Status::Model,
            sys::PTRT_ERROR_CONTRACT_VIOLATION => Status::ContractViolation,
            sys::PTRT_ERROR_ENGINE => Status::Engine,
            sys::PTRT_ERROR_STATE => Status::State,
            sys::PTRT_ERROR_UNAVAILABLE => Status::Unavailable,
            sys::PTRT_ERROR_INTERNAL => Status::Internal,
            other => Status::Other(other),
        }
    }

    pub fn to_raw(self) -> sys::ptrt_status {
        match self {
            Status::InvalidArgument => sys::PTRT_ERROR_INVALID_ARGUMENT,
            Status::InvalidAudio => sys::PTRT_ERROR_INVALID_AUDIO,
            Status::Model => sys::PTRT_ERROR_MODEL,
            Status::ContractViolation => sys::PTRT_ERROR_CONTRACT_VIOLATION,
            Status::Engine => sys::PTRT_ERROR_ENGINE,
            Status::State => sys::PTRT_ERROR_STATE,
            Status::Unavailable => sys::PTRT_ERROR_UNAVAILABLE,
            Status::Internal => sys::PTRT_ERROR_INTERNAL,
            Status::Other(raw) => raw,
        }
    }

    /// The library's name of the status ("PTRT_ERROR_MODEL").
    pub fn name(self) -> String {
        // SAFETY: never NULL, static storage.
        unsafe { CStr::from_ptr(sys::ptrt_status_name(self.to_raw())) }.to_string_lossy().into_owned()
    }
}

/// A failed call: its status and the library's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error { status, message: message.into() }
    }

    /// The error of the call that just returned `status` on this thread.
    pub(crate) fn last(status: sys::ptrt_status) -> Self {
        // SAFETY: never NULL; valid until this thread's next ptrt_* call, copied at once.
        let message = unsafe { CStr::from_ptr(sys::ptrt_last_error()) }.to_string_lossy().into_owned();
        Error { status: Status::from_raw(status), message }
    }
}

/// `Ok` for PTRT_OK, else the thread's last error. Call right after the C function.
pub(crate) fn check(status: sys::ptrt_status) -> Result<()> {
    if status == sys::PTRT_OK {
        Ok(())
    } else {
        Err(Error::last(status))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}
