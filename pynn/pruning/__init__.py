"""Magnitude pruning with the TensorFlow Model Optimization toolkit's Keras names (tfmot.sparsity.keras).

    pruned = pynn.pruning.prune_low_magnitude(model, pruning_schedule=pynn.pruning.PolynomialDecay(
        initial_sparsity=0.5, final_sparsity=0.8, begin_step=0, end_step=end_step))
    pruned.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    pruned.fit(x, y, epochs=2, callbacks=[pynn.pruning.UpdatePruningStep()])
    final = pynn.pruning.strip_pruning(pruned)        # plain layers, pruned weights at zero
    pynn.pruning.get_sparsity(final)                  # 0.8

Training with the wrapper keeps a 0/1 mask per pruned weight (PruneLowMagnitude); the schedule says when the
masks are recomputed and to what sparsity (ConstantSparsity, PolynomialDecay); UpdatePruningStep drives the
step count and keeps pruned weights at zero after each optimizer step. A stripped model saves compressed
(zero-heavy weights are deflated in the .keras file) and its sparse Dense layers run on a sparse kernel.
"""
from pynn.pruning.api import get_sparsity, prune_low_magnitude, prune_scope, strip_pruning
from pynn.pruning.callbacks import PruningSummaries, UpdatePruningStep
from pynn.pruning.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule
from pynn.pruning.wrapper import PruneLowMagnitude

__all__ = ["prune_low_magnitude", "strip_pruning", "get_sparsity", "prune_scope", "PruneLowMagnitude",
           "PruningSchedule", "ConstantSparsity", "PolynomialDecay", "UpdatePruningStep", "PruningSummaries"]
