"""Bayesian optimisation of a pynn model's learning rate and width with Optuna (a recipe, not a pynn feature).

    pip install optuna scikit-learn          # neither is a pynn dependency
    python -m pynn.examples.bayesian_search [--trials 15] [--epochs 8] [--seed 0]

Optuna's default sampler (TPE, a sequential model-based / Bayesian method) proposes a learning rate (log
scale) and a hidden-layer width; each trial scores a KerasClassifier by 3-fold cross-validation on
scikit-learn's bundled digits (1797 8x8 images, no download) with the scaler inside a Pipeline. The best
parameters are then refitted and scored on a held-out quarter (about 0.97-0.98). About 2 s per trial on two
cores, so half a minute in all.

scikit-optimize's BayesSearchCV is the other common choice: a drop-in for GridSearchCV over the same pipeline,
e.g. {"kerasclassifier__learning_rate": (1e-4, 1e-1, "log-uniform"), "kerasclassifier__units": (8, 128)}
(not exercised by pynn's tests).
"""
import argparse

import pynn


def create_model(meta, units=32, learning_rate=1e-3):
    """A one-hidden-layer MLP sized from the data (meta: n_features_in_, n_classes_)."""
    model = pynn.Sequential([
        pynn.layers.Input(shape=(meta["n_features_in_"],)),
        pynn.layers.Dense(units, activation="relu"),
        pynn.layers.Dense(meta["n_classes_"], activation="softmax"),
    ])
    model.compile(optimizer=pynn.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import optuna
        from sklearn.datasets import load_digits
        from sklearn.model_selection import cross_val_score, train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise SystemExit(f"this example needs Optuna and scikit-learn: pip install optuna scikit-learn ({exc})")
    from pynn.wrappers import KerasClassifier

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=args.seed,
                                                        stratify=y)

    def make(params):
        return make_pipeline(StandardScaler(), KerasClassifier(
            build_fn=create_model, epochs=args.epochs, batch_size=32, verbose=0, random_state=args.seed,
            **params))

    def objective(trial):
        params = {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
                  "units": trial.suggest_int("units", 8, 128, log=True)}
        return cross_val_score(make(params), x_train, y_train, cv=3).mean()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=args.seed))
    study.optimize(objective, n_trials=args.trials)

    for t in sorted(study.trials, key=lambda t: -t.value)[:5]:
        print(f"trial {t.number:3d}: cv accuracy {t.value:.4f}  learning_rate={t.params['learning_rate']:.2e}  "
              f"units={t.params['units']}")
    best = make(study.best_params).fit(x_train, y_train)
    print(f"best params: {study.best_params}  (cv accuracy {study.best_value:.4f})")
    print(f"held-out accuracy with the best params: {best.score(x_test, y_test):.4f}")
    return study


if __name__ == "__main__":
    main()
