// stubgen: the few items of `core` a generated Rust module and its callers use, for a
// `#![no_core]` crate that rustc compiles for any target without that target's core
// library (only the host's is installed). Our own minimal definitions of the language
// items rustc needs, in the way rustc's own assembly tests build cross-target crates.
// `extern crate self as core` makes `core::arch::asm!` and `core::ffi::c_void` in the
// generated module resolve to the items below.
#![feature(no_core, lang_items, rustc_attrs, decl_macro, asm_experimental_arch)]
#![allow(internal_features, dead_code, unused, non_camel_case_types, unreachable_code)]
#![no_std]
#![no_core]

extern crate self as core;

#[lang = "pointee_sized"]
pub trait PointeeSized {}
#[lang = "meta_sized"]
pub trait MetaSized: PointeeSized {}
#[lang = "sized"]
pub trait Sized: MetaSized {}
#[lang = "copy"]
pub trait Copy: Sized {}
#[lang = "legacy_receiver"]
pub trait LegacyReceiver {}
impl<T: PointeeSized> LegacyReceiver for &T {}

macro_rules! copy_types { ($($t:ty),*) => { $(impl Copy for $t {})* } }
copy_types!(bool, isize, i8, i16, i32, i64, usize, u8, u16, u32, u64);
impl<T: PointeeSized> Copy for *const T {}
impl<T: PointeeSized> Copy for *mut T {}
impl<T: Copy, const N: usize> Copy for [T; N] {}

#[lang = "eq"]
pub trait PartialEq<Rhs: PointeeSized = Self>: PointeeSized {
    fn eq(&self, other: &Rhs) -> bool;
    fn ne(&self, other: &Rhs) -> bool;
}
#[lang = "partial_ord"]
pub trait PartialOrd<Rhs: PointeeSized = Self>: PartialEq<Rhs> + PointeeSized {
    fn lt(&self, other: &Rhs) -> bool;
    fn le(&self, other: &Rhs) -> bool;
    fn gt(&self, other: &Rhs) -> bool;
    fn ge(&self, other: &Rhs) -> bool;
}
#[lang = "neg"]
pub trait Neg {
    type Output;
    fn neg(self) -> Self::Output;
}
#[lang = "shr"]
pub trait Shr<Rhs = Self> {
    type Output;
    fn shr(self, rhs: Rhs) -> Self::Output;
}

// On primitive integers the operators are built in; these impls only let them type-check.
macro_rules! int_ops { ($($t:ty),*) => { $(
    impl PartialEq for $t {
        fn eq(&self, other: &$t) -> bool { *self == *other }
        fn ne(&self, other: &$t) -> bool { *self != *other }
    }
    impl PartialOrd for $t {
        fn lt(&self, other: &$t) -> bool { *self < *other }
        fn le(&self, other: &$t) -> bool { *self <= *other }
        fn gt(&self, other: &$t) -> bool { *self > *other }
        fn ge(&self, other: &$t) -> bool { *self >= *other }
    }
    impl Shr for $t { type Output = $t; fn shr(self, rhs: $t) -> $t { self >> rhs } }
)* } }
int_ops!(isize, i32, i64, usize, u32, u64);
macro_rules! neg_ops { ($($t:ty),*) => { $(impl Neg for $t { type Output = $t; fn neg(self) -> $t { -self } })* } }
neg_ops!(isize, i32, i64);

pub mod arch {
    #[rustc_builtin_macro]
    pub macro asm("assembly template", $(operands,)* $(options($(option),*))?) {
        /* compiler built-in */
    }
}

pub mod ffi {
    #[repr(u8)]
    pub enum c_void {
        __variant1,
        __variant2,
    }
}
