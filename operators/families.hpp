// One registration function per operator family; builtin.cpp calls them all, through the same
// Registrar a plugin receives.
#pragma once

#include "gradflow/registry.hpp"

namespace gradflow::ops {

void register_linear(Registrar& registrar);
void register_activations(Registrar& registrar);
void register_combine(Registrar& registrar);
void register_losses(Registrar& registrar);
void register_optimizers(Registrar& registrar);
void register_conv(Registrar& registrar);
void register_pooling(Registrar& registrar);
void register_reshape(Registrar& registrar);
void register_dropout(Registrar& registrar);
void register_normalization(Registrar& registrar);
void register_embedding(Registrar& registrar);
void register_layer_norm(Registrar& registrar);
void register_attention(Registrar& registrar);

}  // namespace gradflow::ops
