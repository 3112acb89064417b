use parakeet_trt_sys as sys;
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I64,
    I32,
}

/// Read-only view of an input tensor: a buffer the session owns, valid during [`Engine::run`].
#[derive(Debug)]
pub struct TensorRef<'a> {
    pub name: &'a str,
    /// Row-major, contiguous.
    pub shape: &'a [i64],
    pub data: TensorData<'a>,
}

#[derive(Debug)]
pub enum TensorData<'a> {
    F32(&'a [f32]),
    I64(&'a [i64]),
    I32(&'a [i32]),
}

/// Writable view of an output tensor, pre-sized by the session from the model's contract. The
/// engine must fill every element in place.
#[derive(Debug)]
pub struct TensorMut<'a> {
    pub name: &'a str,
    pub shape: &'a [i64],
    pub data: TensorDataMut<'a>,
}

#[derive(Debug)]
pub enum TensorDataMut<'a> {
    F32(&'a mut [f32]),
    I64(&'a mut [i64]),
    I32(&'a mut [i32]),
}

impl TensorRef<'_> {
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::I64(_) => DType::I64,
            TensorData::I32(_) => DType::I32,
        }
    }
    pub fn as_f32(&self) -> Option<&[f32]> {
        if let TensorData::F32(d) = &self.data { Some(d) } else { None }
    }
    pub fn as_i64(&self) -> Option<&[i64]> {
        if let TensorData::I64(d) = &self.data { Some(d) } else { None }
    }
    pub fn as_i32(&self) -> Option<&[i32]> {
        if let TensorData::I32(d) = &self.data { Some(d) } else { None }
    }
}

impl TensorMut<'_> {
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorDataMut::F32(_) => DType::F32,
            TensorDataMut::I64(_) => DType::I64,
            TensorDataMut::I32(_) => DType::I32,
        }
    }
    pub fn as_f32_mut(&mut self) -> Option<&mut [f32]> {
        if let TensorDataMut::F32(d) = &mut self.data { Some(d) } else { None }
    }
    pub fn as_i64_mut(&mut self) -> Option<&mut [i64]> {
        if let TensorDataMut::I64(d) = &mut self.data { Some(d) } else { None }
    }
    pub fn as_i32_mut(&mut self) -> Option<&mut [i32]> {
        if let TensorDataMut::I32(d) = &mut self.data { Some(d) } else { None }
    }
}

/// An engine the session runs through the C ABI's external-engine vtable (the encoder: inputs
/// `audio_signal` f32 `[1, n_mels, T]` and `length` i64 `[1]`; outputs `outputs` f32
/// `[1, d_model, T']` and `encoded_lengths` i64 `[1]`, names and shapes from the model's contract).
///
/// `run` is called on the thread that drives the session; `Send` because a session may move
/// between threads and takes its engine along. An `Err(message)` becomes [`Status::Engine`] with
/// that message in the session's error; a panic is caught and reported the same way (never
/// unwinds into C). The session checks the outputs afterwards (`encoded_lengths` against the
/// contract, finiteness), so a wrong engine gives [`Status::ContractViolation`] or
/// [`Status::Engine`], not a wrong transcript.
///
/// [`Status::Engine`]: crate::Status::Engine
/// [`Status::ContractViolation`]: crate::Status::ContractViolation
pub trait Engine: Send {
    fn run(&mut self, inputs: &[TensorRef<'_>], outputs: &mut [TensorMut<'_>]) -> Result<(), String>;
}

/// Wraps a Rust engine into the C vtable. Ownership moves to whoever receives the vtable: they
/// must call `destroy(self)` exactly once (`ptrt_session_create` does, on success and failure), or
/// the engine leaks. [`Session::new`](crate::Session::new) does this for you.
pub fn engine_into_raw_vtable(engine: Box<dyn Engine>) -> sys::ptrt_engine_vtable {
    // Box<dyn Engine> is a fat pointer; boxing it again gives the thin `void*` C needs.
    let self_ = Box::into_raw(Box::new(engine)) as *mut c_void;
    sys::ptrt_engine_vtable {
        struct_size: std::mem::size_of::<sys::ptrt_engine_vtable>(),
        self_,
        run: Some(run_trampoline),
        destroy: Some(destroy_trampoline),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Drops a panic payload whose own Drop might panic again (then the second payload is leaked).
fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// Copies `message` into the C buffer, truncated at a char boundary, NUL-terminated.
unsafe fn write_message(message: &str, buffer: *mut c_char, capacity: usize) {
    if buffer.is_null() || capacity == 0 {
        return;
    }
    let mut len = message.len().min(capacity - 1);
    while !message.is_char_boundary(len) {
        len -= 1;
    }
    std::ptr::copy_nonoverlapping(message.as_ptr() as *const c_char, buffer, len);
    *buffer.add(len) = 0;
}

fn element_count(tensor: &sys::ptrt_tensor) -> Result<usize, String> {
    if tensor.rank < 0 || tensor.rank as usize > sys::PTRT_MAX_TENSOR_RANK {
        return Err(format!("tensor rank {} outside 0..={}", tensor.rank, sys::PTRT_MAX_TENSOR_RANK));
    }
    tensor.shape[..tensor.rank as usize].iter().try_fold(1usize, |count, &dim| {
        usize::try_from(dim)
            .ok()
            .and_then(|dim| count.checked_mul(dim))
            .ok_or_else(|| format!("bad tensor shape {:?}", &tensor.shape[..tensor.rank as usize]))
    })
}

unsafe fn slice_parts<'a, T>(tensor: &'a sys::ptrt_tensor, name: &str) -> Result<(*mut T, usize), String> {
    let count = element_count(tensor)?;
    if count == 0 {
        return Ok((std::ptr::NonNull::<T>::dangling().as_ptr(), 0));
    }
    let data = tensor.data as *mut T;
    if data.is_null() || (data as usize) % std::mem::align_of::<T>() != 0 {
        return Err(format!("tensor '{name}' has a NULL or misaligned data pointer"));
    }
    Ok((data, count))
}

unsafe fn tensor_name(tensor: &sys::ptrt_tensor) -> Result<&str, String> {
    if tensor.name.is_null() {
        return Err("tensor without a name".to_string());
    }
    CStr::from_ptr(tensor.name).to_str().map_err(|_| "tensor name is not UTF-8".to_string())
}

unsafe fn input_view(tensor: &sys::ptrt_tensor) -> Result<TensorRef<'_>, String> {
    let name = tensor_name(tensor)?;
    let shape = &tensor.shape[..element_count(tensor).map(|_| tensor.rank as usize)?];
    let data = match tensor.dtype {
        sys::PTRT_DTYPE_FLOAT32 => {
            let (p, n) = slice_parts::<f32>(tensor, name)?;
            TensorData::F32(std::slice::from_raw_parts(p, n))
        }
        sys::PTRT_DTYPE_INT64 => {
            let (p, n) = slice_parts::<i64>(tensor, name)?;
            TensorData::I64(std::slice::from_raw_parts(p, n))
        }
        sys::PTRT_DTYPE_INT32 => {
            let (p, n) = slice_parts::<i32>(tensor, name)?;
            TensorData::I32(std::slice::from_raw_parts(p, n))
        }
        other => return Err(format!("tensor '{name}' has unknown dtype {other}")),
    };
    Ok(TensorRef { name, shape, data })
}

unsafe fn output_view(tensor: &sys::ptrt_tensor) -> Result<TensorMut<'_>, String> {
    let name = tensor_name(tensor)?;
    let shape = &tensor.shape[..element_count(tensor).map(|_| tensor.rank as usize)?];
    let data = match tensor.dtype {
        sys::PTRT_DTYPE_FLOAT32 => {
            let (p, n) = slice_parts::<f32>(tensor, name)?;
            TensorDataMut::F32(std::slice::from_raw_parts_mut(p, n))
        }
        sys::PTRT_DTYPE_INT64 => {
            let (p, n) = slice_parts::<i64>(tensor, name)?;
            TensorDataMut::I64(std::slice::from_raw_parts_mut(p, n))
        }
        sys::PTRT_DTYPE_INT32 => {
            let (p, n) = slice_parts::<i32>(tensor, name)?;
            TensorDataMut::I32(std::slice::from_raw_parts_mut(p, n))
        }
        other => return Err(format!("tensor '{name}' has unknown dtype {other}")),
    };
    Ok(TensorMut { name, shape, data })
}

unsafe fn raw_slice<'a, T>(data: *const T, len: usize) -> &'a [T] {
    if len == 0 { &[] } else { std::slice::from_raw_parts(data, len) }
}

unsafe extern "C" fn run_trampoline(
    self_: *mut c_void,
    inputs: *const sys::ptrt_tensor,
    num_inputs: usize,
    outputs: *mut sys::ptrt_tensor,
    num_outputs: usize,
    error_message: *mut c_char,
    error_capacity: usize,
) -> sys::ptrt_status {
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
        // SAFETY: self_ is the Box<dyn Engine> made by engine_into_raw_vtable, alive until
        // destroy; the session calls run from one thread at a time. The tensor arrays and their
        // buffers are the session's, valid for this call; inputs and outputs are distinct
        // buffers (the session owns each one separately), so & and &mut views do not alias.
        let engine = &mut **(self_ as *mut Box<dyn Engine>);
        let raw_inputs = raw_slice(inputs, num_inputs);
        let raw_outputs = raw_slice(outputs as *const sys::ptrt_tensor, num_outputs);
        let inputs = raw_inputs.iter().map(|t| input_view(t)).collect::<Result<Vec<_>, _>>()?;
        let mut outputs = raw_outputs.iter().map(|t| output_view(t)).collect::<Result<Vec<_>, _>>()?;
        engine.run(&inputs, &mut outputs)
    }));
    let message = match result {
        Ok(Ok(())) => return sys::PTRT_OK,
        Ok(Err(message)) => message,
        Err(payload) => {
            let message = format!("Rust engine panicked: {}", panic_message(&*payload));
            drop_payload(payload);
            message
        }
    };
    write_message(&message, error_message, error_capacity);
    sys::PTRT_ERROR_ENGINE
}

unsafe extern "C" fn destroy_trampoline(self_: *mut c_void) {
    if self_.is_null() {
        return;
    }
    // SAFETY: called once per vtable (the header's contract), with the pointer from into_raw.
    let engine = Box::from_raw(self_ as *mut Box<dyn Engine>);
    // A panicking Drop cannot be reported through destroy(): swallow it rather than unwind into C.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(engine))) {
        drop_payload(payload);
    }
}
