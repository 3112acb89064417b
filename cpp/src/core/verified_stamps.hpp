#pragma once
// Verified stamps: a model file's SHA-256 is computed once and remembered with the file's identity,
// so later loads of an unchanged file skip the hash (loading the 0.6B export hashed 2.5 GB every
// time: 13.8 s against 3.7 s without).
//
// A stamp is a small file under the stamp folder ($PARAKEET_TRT_STAMPS, else
// $PARAKEET_TRT_CACHE/verified, else $XDG_CACHE_HOME/parakeet_trt/verified, else
// ~/.cache/parakeet_trt/verified), named by the hash of the file's canonical path. It records
// device, inode, size, modification time and status-change time (ctime, both in ns) and the hash
// that the full check found. A stamp is used only when all of them match the file now and its
// hash is the one the contract expects; anything else hashes the file in full (and writes a new
// stamp when the hash is right). Writing a file, or restoring its modification time afterwards
// (touch -d, utime), sets ctime to the present, which no unprivileged call can set back: so a
// same-size edit with a restored mtime is still hashed in full and refused. What a stamp cannot
// see: a change made below the file system (raw block device, an offline disk image) or with the
// system clock set back by root, and a stamp forged by someone who can write the stamp folder.
// `parakeet-trt verify MODEL` (full_verify) ignores stamps, hashes every file and refreshes them.
// docs/DECISION_LOG.md, "Verified stamps".

#include <string>

namespace parakeet_trt {

// Folder that holds the stamps ("" when PARAKEET_TRT_STAMPS=off or no candidate can be named:
// stamps are then off and every load hashes in full).
std::string stamp_folder();

// SHA-256 of `path`. With trust_stamps, a stamp that matches the file's identity and `expected`
// stands in for the hash; otherwise the file is hashed and, when the hash equals `expected`, a
// stamp is (re)written (best effort: an unwritable stamp folder only means the next load hashes again).
// Throws ModelError when the file cannot be read.
std::string stamped_sha256(const std::string& path, const std::string& expected, bool trust_stamps);

// Whether the last stamped_sha256 call on this thread was answered by a stamp (for tests and reports).
bool last_hash_was_stamped();

}  // namespace parakeet_trt
