"""Evaluation: multi-view aggregation, metrics, result files, and the evaluation loop.

    from videomae_tf.data.pipeline import multiview_dataset
    from videomae_tf.evaluation import evaluate
    metrics = evaluate(model, multiview_dataset("val.txt", batch_size=8), output_dir="eval")
    print(metrics["top1"], metrics["top5"], metrics["mean_class_accuracy"])
"""

from videomae_tf.evaluation.aggregation import (  # noqa: F401
    AGGREGATIONS,
    VideoScores,
    ViewAccumulator,
    aggregate_views,
    softmax,
)
from videomae_tf.evaluation.confusion_plot import render_confusion_matrix, save_confusion_matrix  # noqa: F401
from videomae_tf.evaluation.dumps import (  # noqa: F401
    dump_scores,
    load_scores,
    write_class_report,
    write_metrics,
    write_predictions_csv,
)
from videomae_tf.evaluation.inference import (  # noqa: F401
    InferenceModel,
    as_inference_model,
    load_inference_model,
)
from videomae_tf.evaluation.metrics import (  # noqa: F401
    classification_metrics,
    confusion_matrix,
    f1_scores,
    ma52_f1_mean,
    mean_class_accuracy,
    per_class_report,
    precision_recall_f1,
    top_k_accuracy,
)
from videomae_tf.evaluation.runner import (  # noqa: F401
    OUTPUT_FILES,
    evaluate,
    predict_videos,
    score_videos,
    write_outputs,
)
from videomae_tf.evaluation.predict import (  # noqa: F401
    TestViews,
    predict_files,
    top_k_predictions,
    views_dataset,
)
