//! Task priority levels (UEFI 2.10 section 7.1, "RaiseTPL()").

/// A task priority level. Only the four levels named by the spec are valid arguments from callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tpl(pub usize);

impl Tpl {
    /// `TPL_APPLICATION` (4): normal execution.
    pub const APPLICATION: Tpl = Tpl(4);
    /// `TPL_CALLBACK` (8): most notification functions.
    pub const CALLBACK: Tpl = Tpl(8);
    /// `TPL_NOTIFY` (16): blocking I/O and its notifications.
    pub const NOTIFY: Tpl = Tpl(16);
    /// `TPL_HIGH_LEVEL` (31): interrupts disabled.
    pub const HIGH_LEVEL: Tpl = Tpl(31);

    /// Whether this is one of the four levels the spec lets a caller name.
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            Tpl::APPLICATION | Tpl::CALLBACK | Tpl::NOTIFY | Tpl::HIGH_LEVEL
        )
    }

    /// Whether an event notification function may be registered at this level: one of the named levels above
    /// `TPL_APPLICATION`, i.e. `TPL_CALLBACK`, `TPL_NOTIFY` or `TPL_HIGH_LEVEL` (UEFI 2.10 section 7.1, table
    /// "TPL Restrictions", row "Event Notification Levels": `> TPL_APPLICATION` and `<= TPL_HIGH_LEVEL`).
    pub fn is_notify_level(self) -> bool {
        self.is_valid() && self > Tpl::APPLICATION
    }
}
