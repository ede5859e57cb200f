// Unit tests of the stream slots (host/module/stream_table.cc).
#include "stream_table.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nodevoy {
namespace {

TEST(StreamTable, TokensNameLiveStreamsOnly) {
  StreamTable table;
  StreamTable::Entry a, b;
  ASSERT_TRUE(table.acquire(&a));
  ASSERT_TRUE(table.acquire(&b));
  EXPECT_NE(a.slot, b.slot);
  EXPECT_EQ(table.lookup(a.token()), a.slot);
  EXPECT_EQ(table.lookup(b.token()), b.slot);
  EXPECT_EQ(table.liveness()[a.slot], a.generation);
  table.markGone(a.slot);
  EXPECT_EQ(table.lookup(a.token()), -1);
  EXPECT_EQ(table.liveness()[a.slot], 0u);
  EXPECT_EQ(table.live(), 1u);
}

TEST(StreamTable, AReusedSlotGetsANewGeneration) {
  StreamTable table;
  StreamTable::Entry first, second;
  ASSERT_TRUE(table.acquire(&first));
  table.release(first.slot);
  ASSERT_TRUE(table.acquire(&second));
  EXPECT_EQ(second.slot, first.slot);
  EXPECT_NE(second.generation, first.generation);
  EXPECT_EQ(table.lookup(first.token()), -1) << "a stale token never names the slot's new stream";
  EXPECT_EQ(table.lookup(second.token()), second.slot);
}

TEST(StreamTable, MalformedTokensNameNothing) {
  StreamTable table;
  StreamTable::Entry e;
  ASSERT_TRUE(table.acquire(&e));
  for (double bad : {-1.0, 0.5, e.token() + 0.5, 1e300, std::nan(""), static_cast<double>(e.slot)}) {
    EXPECT_EQ(table.lookup(bad), -1) << bad;
  }
}

TEST(StreamTable, FullTableRefuses) {
  StreamTable table;
  StreamTable::Entry e;
  for (uint32_t i = 0; i < StreamTable::kSlots; i++) ASSERT_TRUE(table.acquire(&e));
  EXPECT_FALSE(table.acquire(&e));
  table.release(123);
  EXPECT_TRUE(table.acquire(&e));
  EXPECT_EQ(e.slot, 123u);
}

}  // namespace
}  // namespace nodevoy
