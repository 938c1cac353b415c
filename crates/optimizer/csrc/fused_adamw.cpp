// The two libtorch calls lrdist's optimiser needs that tch does not bind: PyTorch's fused
// AdamW kernel (`torch.optim.AdamW(fused=True)`: one vectorised pass over parameter,
// gradient and both moments, on CPU and CUDA) and setting gradients to "none".
//
// Every function takes tch tensor handles (`C_tensor*`, which torch-sys defines as
// `torch::Tensor*`), catches every C++ exception and returns it as a malloc'd message
// (NULL on success) that the caller frees with `lrdist_free_error`.
#include <ATen/core/Tensor.h>
#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_fused_adamw.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace {

char* error_message(const char* what) {
  const size_t n = std::strlen(what);
  char* out = static_cast<char*>(std::malloc(n + 1));
  if (out != nullptr) std::memcpy(out, what, n + 1);
  return out;
}

}  // namespace

extern "C" {

// One AdamW step (decoupled weight decay) over `n` parameters that share `lr` and
// `weight_decay`. Each parameter's gradient is read from the parameter itself; parameters
// without a gradient (not in this step's graph) are skipped, their state untouched, as
// torch.optim.AdamW does. `steps` are per-parameter float scalars, incremented here before
// the update.
char* lrdist_fused_adamw(void* const* params, void* const* exp_avgs, void* const* exp_avg_sqs,
                         void* const* steps, size_t n, double lr, double beta1, double beta2,
                         double weight_decay, double eps) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    for (size_t i = 0; i < n; ++i) {
      const at::Tensor& param = *static_cast<at::Tensor*>(params[i]);
      at::Tensor grad = param.grad();
      if (!grad.defined()) continue;
      p.push_back(param);
      g.push_back(grad.is_contiguous() ? grad : grad.contiguous());
      m.push_back(*static_cast<at::Tensor*>(exp_avgs[i]));
      v.push_back(*static_cast<at::Tensor*>(exp_avg_sqs[i]));
      s.push_back(*static_cast<at::Tensor*>(steps[i]));
    }
    if (p.empty()) return nullptr;
    at::_foreach_add_(s, 1);
    at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps,
                      /*amsgrad=*/false, /*maximize=*/false);
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e.what());
  } catch (...) {
    return error_message("unknown C++ exception in lrdist_fused_adamw");
  }
}

// Drops the gradient of each of `n` parameters (PyTorch's `zero_grad(set_to_none=True)`):
// the next backward pass allocates fresh gradients instead of adding into zeroed ones.
char* lrdist_clear_grads(void* const* params, size_t n) {
  try {
    for (size_t i = 0; i < n; ++i) static_cast<at::Tensor*>(params[i])->mutable_grad().reset();
    return nullptr;
  } catch (const std::exception& e) {
    return error_message(e.what());
  }
}

void lrdist_free_error(char* message) { std::free(message); }

}  // extern "C"
