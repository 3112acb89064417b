#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {

std::shared_ptr<Engine> Model::engine(const std::string& graph, const EngineOptions& options) const {
  options.validate();
  const std::string key = graph + "\n" + options.key();
  std::lock_guard<std::mutex> lock(engines_mutex_);
  if (std::shared_ptr<Engine> alive = engines_[key].lock()) return alive;
  // Made under the lock: two callers asking at once get one engine, not two loads of the graph.
  std::shared_ptr<Engine> made = make_engine(*this, graph, options);
  engines_[key] = made;
  return made;
}

}  // namespace parakeet_trt
