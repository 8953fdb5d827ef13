"""Using the rows nobody labelled: what to label next (`query`) and learning from them (`self_train`).

Both work with any classification strategy; `pool` reads the unlabelled file they share.
"""
