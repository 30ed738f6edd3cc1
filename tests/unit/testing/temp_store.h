// A SQLite store in a fresh temporary directory, removed on destruction.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace berth::testing {

class TempStore {
 public:
  TempStore() {
    char tmpl[] = "/tmp/berth-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store::SqliteOptions so;
    so.path = dir_ + "/state.db";
    auto st = store::OpenSqlite(so);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    if (st.ok()) db_ = std::move(st).value();
  }
  ~TempStore() {
    if (db_) db_->Close();
    std::filesystem::remove_all(dir_);
  }
  store::Store* get() const { return db_.get(); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::unique_ptr<store::Store> db_;
};

}  // namespace berth::testing
