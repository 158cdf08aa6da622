package lease

// TEMPORARY stub of helper tuiaud11 until rev11's branch is merged; deleted
// before that merge.

// ActionRevert is a stand-in for rev11's constant.
const ActionRevert = ActionRelease + 1
