"""The use stage: a trained model put to work -- evaluation, prediction, embeddings, neighbours, few-shot."""
