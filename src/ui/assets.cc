#include "ui/assets.h"

namespace anthill::ui {

const Asset* FindAsset(std::string_view name) {
  for (const auto& a : Assets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace anthill::ui
