// eval and predict: a trained graph run forward over data. On a classifier (a loss whose
// class_rule gives its prediction classes) eval adds a confusion matrix and predict can print
// classes and probabilities.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>

#include "command_line.hpp"
#include "commands.hpp"
#include "session.hpp"
#include "gradflow/checkpoint.hpp"
#include "gradflow/classification.hpp"
#include "gradflow/csv_idx_readers.hpp"
#include "gradflow/trainer.hpp"

namespace gradflow::runner {

namespace {

struct WeightsArgs : CommonOptions {
  std::string weights;
  std::string input;         // predict --input
  bool json = false;         // eval --json
  bool classes = false;      // predict --classes
  bool probabilities = false;  // predict --probabilities
};

Session open_with_weights(const WeightsArgs& args) {
  Session session = open_session(args);
  load_checkpoint(args.weights, *session.model, LoadMode::WeightsOnly);
  return session;
}

const Dataset& default_data(const Session& session) {
  return session.data.test.empty() ? session.data.train : session.data.test;
}

Classifier require_classifier(const Model& model, const std::string& asked) {
  if (auto classifier = find_classifier(model)) return *classifier;
  throw file_error(model.spec().file.string(),
                   fmt::format("{}: no loss of the graph classifies its prediction (losses that do: {})", asked,
                               fmt::join(classifying_losses(default_registry()), ", ")));
}

// A CSV field: quoted when it holds a comma, a quote or a line break (a label may).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

// Rows as columns: the first left-aligned (names), the rest right-aligned (numbers).
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += i == 0 ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("  {:>{}}", row[i], width[i]);
    fmt::print("{}\n", line);
  }
}

// ---- eval ----

void print_confusion(const ConfusionMatrix& m, const std::vector<std::string>& names) {
  fmt::print("confusion matrix (rows: true class, columns: predicted class):\n");
  std::vector<std::vector<std::string>> rows{{""}};
  for (const std::string& name : names) rows[0].push_back(name);
  for (int64_t t = 0; t < m.classes(); ++t) {
    rows.push_back({names[static_cast<size_t>(t)]});
    for (int64_t p = 0; p < m.classes(); ++p) rows.back().push_back(std::to_string(m.count(t, p)));
  }
  print_table(rows);
  rows = {{"class", "precision", "recall", "support"}};
  for (int64_t c = 0; c < m.classes(); ++c)
    rows.push_back({names[static_cast<size_t>(c)], percent(m.precision(c)), percent(m.recall(c)),
                    std::to_string(m.support(c))});
  print_table(rows);
}

nlohmann::json eval_json(const char* set, const Evaluation& e, const ConfusionMatrix* m,
                         const std::vector<std::string>& names) {
  nlohmann::json out{{"set", set}, {"samples", e.samples}, {"loss", e.loss}};
  if (e.accuracy) out["accuracy"] = *e.accuracy;
  if (!m) return out;
  out["classes"] = m->classes();
  out["labels"] = names;
  auto& confusion = out["confusion"] = nlohmann::json::array();
  for (int64_t t = 0; t < m->classes(); ++t) {
    std::vector<int64_t> row;
    for (int64_t p = 0; p < m->classes(); ++p) row.push_back(m->count(t, p));
    confusion.push_back(row);
  }
  for (int64_t c = 0; c < m->classes(); ++c) {
    out["precision"].push_back(m->precision(c));
    out["recall"].push_back(m->recall(c));
    out["support"].push_back(m->support(c));
  }
  return out;
}

int run_eval(const WeightsArgs& args) {
  Session session = open_with_weights(args);
  Model& model = *session.model;
  const char* set = session.data.test.empty() ? "training" : "test";
  const Dataset& data = default_data(session);
  if (data.empty()) throw file_error(model.spec().file.string(), "the graph has no data to evaluate");
  const std::optional<Classifier> classifier = find_classifier(model);
  std::optional<ConfusionMatrix> confusion;
  Trainer::BatchObserver count_classes;
  if (classifier) {
    confusion.emplace(classifier->classes);
    count_classes = [&](const Model& m) {
      const Tensor& prediction = m.values()[static_cast<size_t>(classifier->prediction)].data;
      const Tensor& target = m.values()[static_cast<size_t>(classifier->target)].data;
      confusion->add(target_classes(classifier->rule, target, classifier->classes),
                     predicted_classes(classifier->rule, prediction));
    };
  }
  Trainer trainer(model, TrainOptions::batches(model.spec().train.batch_size, false));
  const Evaluation e = trainer.evaluate(data, count_classes);
  const std::vector<std::string> names = classifier ? class_names(model.spec(), classifier->classes)
                                                    : std::vector<std::string>{};
  if (args.json) {
    fmt::print("{}\n", eval_json(set, e, confusion ? &*confusion : nullptr, names).dump());
    return 0;
  }
  fmt::print("{} set: {} samples  loss {:.6f}{}\n", set, e.samples, e.loss,
             e.accuracy ? "  accuracy " + percent(e.accuracy) : "");
  if (confusion) print_confusion(*confusion, names);
  return 0;
}

// ---- predict ----

// CSV rows hold the values of the inputs that the outputs need, in the order `inputs:` lists them.
Dataset read_prediction_input(const std::string& file, const Model& model, const std::vector<int>& inputs) {
  const Tensor table = read_csv(file);
  int64_t width = 0;
  for (int v : inputs) width += numel(model.values()[static_cast<size_t>(v)].sample_shape);
  if (table.cols() != width) {
    std::vector<std::string> names;
    for (int v : inputs) names.push_back(model.values()[static_cast<size_t>(v)].name);
    throw file_error(file, fmt::format("has {} columns, but the outputs need {} values per row (inputs {})",
                                       table.cols(), width, fmt::join(names, ", ")));
  }
  Dataset data;
  data.size = table.rows();
  int64_t offset = 0;
  for (int v : inputs) {
    const Value& value = model.values()[static_cast<size_t>(v)];
    const int64_t n = numel(value.sample_shape);
    Tensor column(batched(data.size, value.sample_shape));
    for (int64_t r = 0; r < data.size; ++r)
      std::copy_n(table.data() + r * width + offset, n, column.data() + r * n);
    data.columns[value.name] = std::move(column);
    offset += n;
  }
  return data;
}

// Runs the graph up to `outputs` over the samples (--input, else the graph's data), a batch
// at a time; `print_rows` prints each batch's rows from the model's values.
void predict_batches(const WeightsArgs& args, Session& session, const std::vector<int>& outputs,
                     const std::function<void(const Model&, int64_t rows)>& print_rows) {
  Model& model = *session.model;
  std::optional<Dataset> from_csv;
  if (!args.input.empty()) from_csv = read_prediction_input(args.input, model, model.inputs_needed_for(outputs));
  const Dataset& data = from_csv ? *from_csv : default_data(session);
  constexpr int64_t kBatch = 1024;
  for (int64_t begin = 0; begin < data.size; begin += kBatch) {
    std::vector<int64_t> indices;
    for (int64_t i = begin; i < std::min(data.size, begin + kBatch); ++i) indices.push_back(i);
    model.load_batch(data, indices);
    model.forward_to(outputs);
    print_rows(model, static_cast<int64_t>(indices.size()));
  }
}

// The `outputs:` values, one column per value.
void predict_outputs(const WeightsArgs& args, Session& session) {
  const Model& model = *session.model;
  const std::vector<int> outputs = model.output_values();
  std::vector<std::string> header;
  for (int v : outputs) {
    const Value& value = model.values()[static_cast<size_t>(v)];
    const int64_t n = numel(value.sample_shape);
    for (int64_t i = 0; i < n; ++i) header.push_back(n == 1 ? value.name : fmt::format("{}[{}]", value.name, i));
  }
  fmt::print("{}\n", fmt::join(header, ","));
  predict_batches(args, session, outputs, [&](const Model& m, int64_t rows) {
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<std::string> row;
      for (int v : outputs) {
        const Tensor& t = m.values()[static_cast<size_t>(v)].data;
        const int64_t n = t.size() / rows;
        for (int64_t i = 0; i < n; ++i) row.push_back(fmt::format("{:.6g}", t[r * n + i]));
      }
      fmt::print("{}\n", fmt::join(row, ","));
    }
  });
}

// --classes and/or --probabilities of the classifier's prediction: the class first.
void predict_classes(const WeightsArgs& args, Session& session) {
  const Model& model = *session.model;
  const Classifier c = require_classifier(
      model, args.classes && args.probabilities ? "predict --classes --probabilities"
                                                : args.classes ? "predict --classes" : "predict --probabilities");
  const std::vector<std::string> names = class_names(model.spec(), c.classes);
  std::vector<std::string> header;
  if (args.classes) header.push_back("class");
  for (int64_t k = 0; args.probabilities && k < c.classes; ++k)
    header.push_back(model.spec().labels.empty() ? fmt::format("p[{}]", k) : csv_field(names[static_cast<size_t>(k)]));
  fmt::print("{}\n", fmt::join(header, ","));
  predict_batches(args, session, {c.prediction}, [&](const Model& m, int64_t rows) {
    const Tensor& prediction = m.values()[static_cast<size_t>(c.prediction)].data;
    const std::vector<int64_t> predicted = predicted_classes(c.rule, prediction);
    const Tensor probabilities = class_probabilities(c.rule, prediction);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<std::string> row;
      if (args.classes) row.push_back(csv_field(names[static_cast<size_t>(predicted[static_cast<size_t>(r)])]));
      for (int64_t k = 0; args.probabilities && k < c.classes; ++k)
        row.push_back(fmt::format("{:.6g}", probabilities[r * c.classes + k]));
      fmt::print("{}\n", fmt::join(row, ","));
    }
  });
}

int run_predict(const WeightsArgs& args) {
  Session session = open_with_weights(args);
  if (args.classes || args.probabilities)
    predict_classes(args, session);
  else
    predict_outputs(args, session);
  return 0;
}

// The seed the weights were trained with: data.split and data.validation_split draw from it,
// so evaluating a `train --seed N` run on its own test set needs the same N.
void add_seed_option(CLI::App& command, CommonOptions& options) {
  command.add_option("--seed", options.seed,
                     "the seed the weights were trained with (default: the graph's); it draws data.split");
}

}  // namespace

Command add_eval(CLI::App& app) {
  auto args = std::make_shared<WeightsArgs>();
  CLI::App* command = app.add_subcommand(
      "eval", "loss and accuracy on the test set (or the training set); a classifier's confusion matrix");
  add_common_options(*command, *args);
  command->add_option("--weights", args->weights, "checkpoint")->required()->check(existing_file("checkpoint"));
  command->add_flag("--json", args->json, "print one JSON object (for scripts)");
  add_seed_option(*command, *args);
  return {command, [args] { return run_eval(*args); }};
}

Command add_predict(CLI::App& app) {
  auto args = std::make_shared<WeightsArgs>();
  CLI::App* command = app.add_subcommand("predict", "print the outputs for each sample as CSV");
  add_common_options(*command, *args);
  command->add_option("--weights", args->weights, "checkpoint")->required()->check(existing_file("checkpoint"));
  command->add_option("--input", args->input, "CSV of input values (default: the graph's test or training data)")
      ->check(existing_file("input file"));
  command->add_flag("--classes", args->classes,
                    "print the predicted class of each sample (its label when the graph has `labels:`)");
  command->add_flag("--probabilities", args->probabilities, "print each class's probability, one column per class");
  add_seed_option(*command, *args);
  return {command, [args] { return run_predict(*args); }};
}

}  // namespace gradflow::runner
