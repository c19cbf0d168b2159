#include "families.hpp"
#include "gradflow/registry.hpp"

namespace gradflow {

void register_builtin_operators(Registrar& registrar) {
  ops::register_linear(registrar);
  ops::register_activations(registrar);
  ops::register_combine(registrar);
  ops::register_losses(registrar);
  ops::register_optimizers(registrar);
  ops::register_conv(registrar);
  ops::register_pooling(registrar);
  ops::register_reshape(registrar);
  ops::register_dropout(registrar);
  ops::register_normalization(registrar);
  ops::register_embedding(registrar);
  ops::register_layer_norm(registrar);
  ops::register_attention(registrar);
}

}  // namespace gradflow
