// dfer-pretrain: thin entry point; the work is dfer::train::run_task (src/train/task.cpp).
#include "dfer/train/task.h"

int main(int argc, char** argv) {
  return dfer::train::task_main(argc, argv, dfer::train::Task::kPretrain);
}
