//! Identity paging (to be extended past 4 GiB once the memory map is known).
