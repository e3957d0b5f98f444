#include "config/toml_guard.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace anthill::config {
namespace {

// Where the scanner is. Only what decides how a byte is read: toml++ reports
// every other mistake itself, and once it has found one nothing after it is
// parsed, so the scanner need not agree with it past an error.
enum class Mode { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };

bool IsBareKeyChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsBlank(unsigned char c) { return c == ' ' || c == '\t'; }

// "U+02CB", for messages.
std::string CodePointName(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// What a byte is called in a message: printable ASCII as itself.
std::string ByteName(unsigned char c) {
  if (c == '\n' || c == '\r') return "a line break";
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  return buf;
}

// Decodes the UTF-8 sequence at text[i] (a byte >= 0x80): its code point and
// length, or false when it is not well-formed (overlong forms, surrogates and
// values past U+10FFFF included, as RFC 3629 says).
bool DecodeUtf8(std::string_view text, size_t i, uint32_t* cp, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = b(0);
  uint32_t min;
  if (lead >= 0xc2 && lead <= 0xdf) {
    *len = 2, *cp = lead & 0x1f, min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    *len = 3, *cp = lead & 0x0f, min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    *len = 4, *cp = lead & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (text.size() - i < *len) return false;
  for (size_t k = 1; k < *len; ++k) {
    if ((b(k) & 0xc0) != 0x80) return false;
    *cp = (*cp << 6) | (b(k) & 0x3f);
  }
  if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) return false;
  return true;
}

class Scanner {
 public:
  Scanner(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  Status Run() {
    // toml++ skips a byte-order mark; so does the scan.
    if (text_.substr(0, 3) == "\xef\xbb\xbf") i_ = 3;
    while (i_ < text_.size()) {
      const unsigned char c = At(i_);
      // TOML allows no control character but tab and line breaks anywhere,
      // not even in strings and comments (there it must be escaped); a NUL
      // reached an assertion in toml++'s parse_value (found by fuzzing).
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        return Fail("control character " + ByteName(c) + " (TOML allows only tab and line breaks)");
      }
      if (c >= 0x80) {
        uint32_t cp = 0;
        size_t len = 0;
        if (!DecodeUtf8(text_, i_, &cp, &len)) return Fail("not valid UTF-8 (" + ByteName(c) + ")");
        if (mode_ == Mode::kCode) {
          return Fail("non-ASCII character " + CodePointName(cp) + " outside a string or comment");
        }
        i_ += len;
        continue;
      }
      Status s = Step(c);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  unsigned char At(size_t i) const { return i < text_.size() ? text_[i] : 0; }
  bool Has(std::string_view s) const { return text_.substr(i_, s.size()) == s; }

  Status Fail(const std::string& what) const {
    return Status::InvalidArgument(file_ + ":" + std::to_string(line_) + ": " + what);
  }

  // One ASCII byte at i_, in the current mode; advances i_.
  Status Step(unsigned char c) {
    if (c == '\n' && take_one_) {  // see ReadOnPastTheSpace()
      take_one_ = false;
      ++line_;
      ++i_;
      return Status::Ok();
    }
    if (c == '\n') {
      ++line_;
      line_start_ = true;
      bare_ = false;
      // A new line at the top level starts a key; in an array the next
      // element may follow on it.
      if (open_.empty()) value_next_ = false;
      // Single-line strings and comments end here (an unterminated string is
      // toml++'s error to report).
      if (mode_ != Mode::kMultiBasic && mode_ != Mode::kMultiLiteral) mode_ = Mode::kCode;
      ++i_;
      return Status::Ok();
    }
    switch (mode_) {
      case Mode::kCode:
        return Code(c);
      case Mode::kComment:
        ++i_;
        return Status::Ok();
      case Mode::kBasic:
        // The escaped byte is never the closing quote. (A line break or a
        // non-ASCII byte after '\\' is an error toml++ reports; the scan
        // reads them as themselves.)
        if (c == '\\' && At(i_ + 1) != '\n' && At(i_ + 1) < 0x80 && i_ + 1 < text_.size()) {
          i_ += 2;
          return Status::Ok();
        }
        if (c == '"') mode_ = Mode::kCode;
        ++i_;
        return Status::Ok();
      case Mode::kLiteral:
        if (c == '\'') mode_ = Mode::kCode;
        ++i_;
        return Status::Ok();
      case Mode::kMultiBasic:
        if (c == '\\') return Backslash();
        if (Has("\"\"\"")) return CloseMulti('"');
        ++i_;
        return Status::Ok();
      case Mode::kMultiLiteral:
        if (Has("'''")) return CloseMulti('\'');
        ++i_;
        return Status::Ok();
    }
    return Status::Ok();
  }

  // A terminator ends a bare value in toml++ (is_value_terminator()).
  static bool IsTerminator(unsigned char c) {
    return IsBlank(c) || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' || c == '#';
  }

  // Outside strings and comments. What a quote means depends on where it is:
  // toml++ starts a string only where a key or a value starts; a value that
  // starts with anything else (a number, a date, true, garbage) is read as
  // one bare run up to a terminator, quotes and brackets included, and each
  // code point of it is asked "is this a terminator?" (so must be ASCII).
  Status Code(unsigned char c) {
    const bool at_line_start = line_start_;
    if (!IsBlank(c) && c != '\r') line_start_ = false;
    if (bare_) {
      if (take_one_ || !IsTerminator(c)) {
        take_one_ = false;
        if (c != '_' && bare_run_.size() < 11) bare_run_ += static_cast<char>(c);
        ++i_;
        return Status::Ok();
      }
      if (c == ' ' && MayBeSpacedDateTime()) return ReadOnPastTheSpace();
      bare_ = false;
    }
    const bool in_array = !open_.empty() && open_.back() == '[';
    // toml++ parses an array element without checking that one starts there:
    // "[,", "[1,,", "[}" reach an assertion in parse_value().
    if (value_next_ && in_array && (c == ',' || c == '}')) {
      return Fail("an array needs a value before '" + std::string(1, static_cast<char>(c)) + "'");
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\r':
        break;
      case '#':
        mode_ = Mode::kComment;
        break;
      case '"':
      case '\'': {
        value_next_ = false;
        const std::string triple(3, static_cast<char>(c));
        if (Has(triple)) {
          mode_ = c == '"' ? Mode::kMultiBasic : Mode::kMultiLiteral;
          i_ += 3;
          return Status::Ok();
        }
        mode_ = c == '"' ? Mode::kBasic : Mode::kLiteral;
        break;
      }
      case '=':
        value_next_ = true;
        break;
      case '[':
        // A '[' that starts a line outside any value opens a table header;
        // where a value starts it opens an array.
        if (open_.empty() && at_line_start) return TableHeader();
        if (value_next_) open_.push_back('[');
        break;
      case '{':
        if (value_next_) {
          open_.push_back('{');
          value_next_ = false;  // keys come first
        }
        break;
      case ']':
      case '}':
        if (!open_.empty() && open_.back() == (c == ']' ? '[' : '{')) open_.pop_back();
        value_next_ = false;
        break;
      case ',':
        value_next_ = in_array;
        break;
      default:
        if (value_next_) {
          bare_ = true;
          bare_run_.assign(1, static_cast<char>(c));
          read_on_ = false;
          value_next_ = false;
        }
        break;
    }
    ++i_;
    return Status::Ok();
  }

  // toml++ reads a value that starts with a digit and has ten characters
  // (underscores not counted) with '-' 5th and 8th as a date that may go on
  // with " HH:MM" (its trait test is narrower; this covers it). When a digit
  // follows the space it reads on once (bare_run_ then has 11 characters).
  bool MayBeSpacedDateTime() const {
    return !read_on_ && bare_run_.size() == 10 && bare_run_[0] >= '0' && bare_run_[0] <= '9' &&
           bare_run_[4] == '-' && bare_run_[7] == '-' && At(i_ + 1) >= '0' && At(i_ + 1) <= '9';
  }

  // The space and the digit are part of the value; so is the character after
  // them, taken without asking whether it ends the value (toml++'s scan is a
  // do-while): a '#' or a line break there does not end it, and the value
  // goes on to the next terminator.
  Status ReadOnPastTheSpace() {
    read_on_ = true;
    take_one_ = true;
    i_ += 2;
    return Status::Ok();
  }

  // toml++ 3.3.0 reads "[" or "[[", then spaces and tabs, and then calls its
  // key parser on whatever comes, which assumes a key starts there. Anything
  // else (a line break, '=', '.', '#', a third '[') is refused here. The key
  // and the closing brackets are left to toml++.
  Status TableHeader() {
    size_t j = i_ + 1;
    if (At(j) == '[') ++j;
    while (IsBlank(At(j))) ++j;
    if (j < text_.size()) {
      const unsigned char c = At(j);
      // Non-ASCII is refused by the caller with its own message.
      if (c < 0x80 && !IsBareKeyChar(c) && c != '"' && c != '\'' && c != ']') {
        // ']' is left to toml++, which names the empty header itself.
        return Fail("a table header needs a name after '" +
                    std::string(text_.substr(i_, At(i_ + 1) == '[' ? 2 : 1)) + "' (saw " +
                    ByteName(c) + ")");
      }
    }
    i_ = j;
    return Status::Ok();
  }

  // A backslash in a multi-line basic string. After "\" toml++ asks whether
  // the next code point is whitespace, and after a line-ending backslash it
  // asks again of the first code point that follows the skipped whitespace;
  // for most non-ASCII code points that question reaches a TOML_UNREACHABLE.
  Status Backslash() {
    const unsigned char next = At(i_ + 1);
    if (next >= 0x80) return Fail("unknown escape sequence: '\\' before a non-ASCII character");
    if (!IsBlank(next) && next != '\r' && next != '\n') {
      i_ += next == 0 ? 1 : 2;  // an escape such as \" or \\ is two bytes
      return Status::Ok();
    }
    size_t j = i_ + 1;
    while (j < text_.size() && (IsBlank(At(j)) || At(j) == '\r' || At(j) == '\n')) {
      if (At(j) == '\n') ++line_;
      ++j;
    }
    i_ = j;
    if (At(j) >= 0x80) {
      return Fail(
          "a non-ASCII character right after a line-ending backslash in a multi-line string "
          "(the TOML parser mishandles it; put an ASCII character or an escape such as \\u00e9 "
          "first)");
    }
    return Status::Ok();
  }

  // """ or ''' closes the string; up to two more quotes right after it are
  // part of the content (TOML allows """a"""""), as toml++ reads it.
  Status CloseMulti(char quote) {
    size_t n = 0;
    while (n < 5 && At(i_ + n) == static_cast<unsigned char>(quote)) ++n;
    i_ += n;
    mode_ = Mode::kCode;
    return Status::Ok();
  }

  std::string_view text_;
  const std::string& file_;
  size_t i_ = 0;
  int line_ = 1;
  Mode mode_ = Mode::kCode;
  std::string open_;         // the '[' and '{' of the values we are in
  bool value_next_ = false;  // a value starts at the next significant byte
  bool bare_ = false;        // inside a value that is not a string, array or table
  std::string bare_run_;     // its first characters, underscores left out
  bool read_on_ = false;     // it was read on past a space (a date-time)
  bool take_one_ = false;    // the next byte is part of it, whatever it is
  bool line_start_ = true;   // only blanks so far on this line (in kCode)
};

}  // namespace

Status GuardToml(std::string_view text, const std::string& file) {
  return Scanner(text, file).Run();
}

}  // namespace anthill::config
